// Runs the real `savant` model server as a child process for integration tests: it binds port 0,
// reports its ports through --port_file, and is ready when KServe ServerReady says so (never by
// reading its log). The log goes to a file in the test's directory, for failure messages only.
//
//   auto server = ServerProcess::Start({"--model_name=m", "--model_base_path=" + dir}, work_dir);
//   ASSERT_TRUE(server.ok()) << server.status();
//   auto stub = tensorflow::serving::PredictionService::NewStub((*server)->channel());
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace savant::testing {

// Owns the child process; kills it (SIGKILL) on destruction if it is still running.
class ServerProcess {
 public:
  // Starts SAVANT_BINARY with `args` plus --port=0 --rest_api_port=0 --port_file=<work_dir>/...,
  // then waits until the port file exists and ServerReady answers true. UNAVAILABLE with the tail
  // of the server's log when the process exits first or `timeout` passes.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::vector<std::string>& args,
                                                              const std::filesystem::path& work_dir,
                                                              absl::Duration timeout = absl::Seconds(30));

  // Starts without waiting for readiness (for tests of start-up failures).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(const std::vector<std::string>& args,
                                                              const std::filesystem::path& work_dir);

  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int grpc_port() const { return grpc_port_; }
  // The REST port from the port file; 0 when the server serves no REST API.
  int rest_port() const { return rest_port_; }
  std::string address() const;
  // A channel to the gRPC port, created once.
  std::shared_ptr<grpc::Channel> channel();

  void Signal(int sig) const;
  // The exit code once the process exits (-signal number when killed by a signal); DEADLINE_EXCEEDED
  // when it is still running after `timeout`.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  bool running();

  // The server's stderr so far (diagnostics only).
  std::string log() const;
  pid_t pid() const { return pid_; }

 private:
  ServerProcess() = default;
  absl::Status WaitUntilServing(absl::Duration timeout);

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = 0;
  int grpc_port_ = 0;
  int rest_port_ = 0;
  std::filesystem::path port_file_;
  std::filesystem::path log_file_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace savant::testing
