#include "engine/base/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

namespace savant {
namespace {

LogLevel LevelFromEnv() {
  const char* env = std::getenv("SAVANT_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  std::string_view v(env);
  if (v == "verbose" || v == "debug") return LogLevel::kVerbose;
  if (v == "warning") return LogLevel::kWarning;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

int VerbosityFromEnv() {
  const char* env = std::getenv("SAVANT_VLOG");
  return env == nullptr ? 0 : std::atoi(env);
}

std::atomic<int>& MinLevelStorage() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

std::atomic<int>& VerbosityStorage() {
  static std::atomic<int> v{VerbosityFromEnv()};
  return v;
}

char LevelChar(LogLevel level) {
  switch (level) {
    case LogLevel::kVerbose: return 'V';
    case LogLevel::kInfo: return 'I';
    case LogLevel::kWarning: return 'W';
    case LogLevel::kError: return 'E';
    case LogLevel::kFatal: return 'F';
  }
  return '?';
}

}  // namespace

void SetMinLogLevel(LogLevel level) { MinLevelStorage().store(static_cast<int>(level)); }
LogLevel MinLogLevel() { return static_cast<LogLevel>(MinLevelStorage().load(std::memory_order_relaxed)); }
void SetVerbosity(int verbosity) { VerbosityStorage().store(verbosity); }
int Verbosity() { return VerbosityStorage().load(std::memory_order_relaxed); }

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  std::string line(stamp);
  line += ' ';
  line += LevelChar(level_);
  line += ' ';
  if (level_ == LogLevel::kVerbose || level_ >= LogLevel::kError) {
    const char* base = std::strrchr(file_, '/');
    line += base ? base + 1 : file_;
    line += ':';
    line += std::to_string(line_);
    line += ' ';
  }
  std::string body = stream_.str();
  // One event is one line: embedded newlines would break log collectors.
  for (char& c : body) {
    if (c == '\n') c = ' ';
  }
  line += body;
  line += '\n';
  // A single write() keeps concurrent lines whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (level_ == LogLevel::kFatal) std::abort();
}

}  // namespace savant
