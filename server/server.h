// The model server: owns the model manager, the shared request path and the front ends (gRPC,
// and REST once issue #7 lands), and defines the order in which they start and stop.
//
// Start:  read the model config -> load every model (TensorFlow Serving serves nothing until its
//         models are loaded) -> start the front ends -> write --port_file -> poll base paths and
//         the config file.
// Stop:   stop polling and cancel pending loads -> report NOT_SERVING -> front ends stop accepting
//         and drain in-flight requests -> unload every version -> return from Wait().
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/model_manager.h"
#include "server/predict_path.h"
#include "server/server_config.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace savant::server {

// An API surface bound to a port: decodes requests, calls the shared PredictPath, encodes answers.
// Implementations are thread-safe.
class FrontEnd {
 public:
  virtual ~FrontEnd() = default;
  // "grpc", "rest": used in logs.
  virtual const char* name() const = 0;
  // Binds and starts serving. UNAVAILABLE when the port cannot be bound.
  virtual absl::Status Start() = 0;
  // The bound TCP port after Start(); 0 when there is none.
  virtual int port() const = 0;
  // Stop reporting healthy; requests are still served. Default: nothing.
  virtual void BeginShutdown() {}
  // Stops accepting, lets in-flight requests finish until `deadline`, then cancels the rest.
  virtual void Shutdown(absl::Time deadline) = 0;
};

class Server;

// Creates a front end for `server` (its options, manager and predict path). The REST front end
// (issue #7) plugs in through Server::SetRestFrontEndFactory.
using FrontEndFactory = std::function<absl::StatusOr<std::unique_ptr<FrontEnd>>(Server& server)>;

// Thread-safe: Shutdown(), ReloadConfig*() and the accessors may be called from any thread, e.g. a
// signal-handling thread, while another thread blocks in Wait().
//
//   Server server(options);
//   RETURN_IF_ERROR(server.Start());
//   server.Wait();   // until Shutdown()
class Server {
 public:
  explicit Server(ServerOptions options);
  // Shutdown().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Used by Start() when --rest_api_port is not zero. Without a factory, Start() logs that the
  // REST API is disabled.
  void SetRestFrontEndFactory(FrontEndFactory factory);

  // Starts serving (see the file comment). Errors: INVALID_ARGUMENT for bad flags or config files,
  // UNKNOWN when a model has no version that loads, UNAVAILABLE when a port cannot be bound or
  // Shutdown() was called meanwhile.
  absl::Status Start();

  // Blocks until Shutdown() has finished.
  void Wait();

  // Stops serving in the documented order; in-flight requests finish first. Idempotent.
  void Shutdown();

  // Applies a new model config (HandleReloadConfigRequest). INVALID_ARGUMENT for a config that is
  // not a model_config_list; otherwise ModelManager::ApplyConfig's result.
  absl::Status ReloadConfig(const tensorflow::serving::ModelServerConfig& config);

  // Re-reads --model_config_file and applies it (SIGHUP, and the poller when its text changed).
  // FAILED_PRECONDITION when the server was started without a config file.
  absl::Status ReloadConfigFile();

  // Started, not shutting down, and every configured model has an AVAILABLE version.
  bool ready() const;
  int grpc_port() const;
  int rest_port() const;

  const ServerOptions& options() const { return options_; }
  ModelManager& manager() { return *manager_; }
  const PredictPath& predict_path() const { return *predict_path_; }

 private:
  absl::Status CheckSideConfigFiles() const;
  absl::Status WritePortFile() const;
  void ConfigFilePollLoop(std::stop_token stop);

  const ServerOptions options_;
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<PredictPath> predict_path_;
  FrontEndFactory rest_factory_;
  std::unique_ptr<FrontEnd> grpc_;
  std::unique_ptr<FrontEnd> rest_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;        // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  bool stopped_ = false;        // guarded by mu_
  std::string applied_config_;  // serialized config last read from the file; guarded by mu_
  std::mutex reload_mu_;        // one config reload at a time
  std::mutex start_mu_;         // held while Start() creates the front ends
  std::jthread config_poll_thread_;
};

}  // namespace savant::server
