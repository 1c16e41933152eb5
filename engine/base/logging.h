// The one logging facade of Savant: structured lines, one per event, written atomically to stderr.
//
//   SAVANT_LOG(INFO) << "model=" << name << " version=" << v << " state=loaded load_ms=" << ms;
//
// prints `2026-11-25T18:55:01.123Z I model=half_plus_two version=123 state=loaded load_ms=41`.
// ERROR: an operator must act. WARNING: degraded but still serving. INFO: lifecycle events only.
// VLOG(n): per-request detail, enabled by SAVANT_VLOG=n or SetVerbosity(). Thread-safe.
#pragma once

#include <sstream>
#include <string>

namespace savant {

enum class LogLevel { kVerbose = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Lines below this level are dropped. Default kInfo; SAVANT_LOG_LEVEL=warning etc. overrides.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
void SetVerbosity(int verbosity);
int Verbosity();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Swallows the stream expression when the level is disabled.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace savant

#define SAVANT_LOG_LEVEL_INFO ::savant::LogLevel::kInfo
#define SAVANT_LOG_LEVEL_WARNING ::savant::LogLevel::kWarning
#define SAVANT_LOG_LEVEL_ERROR ::savant::LogLevel::kError
#define SAVANT_LOG_LEVEL_FATAL ::savant::LogLevel::kFatal

#define SAVANT_LOG(level)                                           \
  (SAVANT_LOG_LEVEL_##level < ::savant::MinLogLevel())              \
      ? (void)0                                                     \
      : ::savant::LogVoidify() &                                    \
            ::savant::LogMessage(SAVANT_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

#define SAVANT_VLOG(n)                                              \
  (::savant::Verbosity() < (n))                                     \
      ? (void)0                                                     \
      : ::savant::LogVoidify() &                                    \
            ::savant::LogMessage(::savant::LogLevel::kVerbose, __FILE__, __LINE__).stream()

// Aborts with a message when a start-up wiring invariant of our own code is broken. Never used for
// request data or model files.
#define SAVANT_CHECK(cond)                                                        \
  (cond) ? (void)0                                                                \
         : ::savant::LogVoidify() &                                               \
               ::savant::LogMessage(::savant::LogLevel::kFatal, __FILE__, __LINE__) \
                       .stream()                                                  \
                   << "check failed: " #cond " "
