#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "kserve/grpc_predict_v2.grpc.pb.h"
#include "rapidjson/document.h"

namespace savant::testing {
namespace fs = std::filesystem;

namespace {

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Tail(const std::string& text, size_t bytes = 3000) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(const std::vector<std::string>& args,
                                                                    const fs::path& work_dir) {
  static std::atomic<int> counter{0};
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  const int n = counter++;
  fs::create_directories(work_dir);
  p->port_file_ = work_dir / absl::StrCat("ports-", n, ".json");
  p->log_file_ = work_dir / absl::StrCat("savant-", n, ".log");
  fs::remove(p->port_file_);

  std::vector<std::string> argv = {SAVANT_BINARY, "--port=0", "--rest_api_port=0",
                                   "--port_file=" + p->port_file_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  const int log_fd = ::open(p->log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("cannot create ", p->log_file_.string()));
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // The test process may block signals in its threads; the server must start with none blocked.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(log_fd);
  p->pid_ = pid;
  return p;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::vector<std::string>& args,
                                                                    const fs::path& work_dir, absl::Duration timeout) {
  auto p = Spawn(args, work_dir);
  if (!p.ok()) return p.status();
  absl::Status status = (*p)->WaitUntilServing(timeout);
  if (!status.ok()) return status;
  return p;
}

absl::Status ServerProcess::WaitUntilServing(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (grpc_port_ == 0) {
    if (!running()) {
      return absl::UnavailableError(absl::StrCat("savant exited with code ", exit_code_, " before serving:\n", Tail(log())));
    }
    if (absl::Now() > deadline) return absl::UnavailableError(absl::StrCat("no port file after ", absl::FormatDuration(timeout), ":\n", Tail(log())));
    if (fs::exists(port_file_)) {
      rapidjson::Document doc;
      doc.Parse(ReadAll(port_file_).c_str());
      if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("grpc_port") && doc["grpc_port"].IsInt()) {
        grpc_port_ = doc["grpc_port"].GetInt();
        if (doc.HasMember("rest_port") && doc["rest_port"].IsInt()) rest_port_ = doc["rest_port"].GetInt();
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto stub = inference::GRPCInferenceService::NewStub(channel());
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    inference::ServerReadyResponse response;
    grpc::Status s = stub->ServerReady(&context, inference::ServerReadyRequest(), &response);
    if (s.ok() && response.ready()) return absl::OkStatus();
    if (!running()) return absl::UnavailableError(absl::StrCat("savant exited with code ", exit_code_, ":\n", Tail(log())));
    if (absl::Now() > deadline) return absl::UnavailableError(absl::StrCat("not ready in time:\n", Tail(log())));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ServerProcess::~ServerProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string ServerProcess::address() const { return absl::StrCat("localhost:", grpc_port_); }

std::shared_ptr<grpc::Channel> ServerProcess::channel() {
  if (channel_ == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  }
  return channel_;
}

void ServerProcess::Signal(int sig) const {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return false;
}

absl::StatusOr<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("savant is still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::string ServerProcess::log() const { return ReadAll(log_file_); }

}  // namespace savant::testing
