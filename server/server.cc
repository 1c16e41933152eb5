#include "server/server.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "engine/base/thread_pool.h"
#include "server/grpc/grpc_front_end.h"
#include "server/warmup.h"
#include "tensorflow_serving/config/monitoring_config.pb.h"
#include "tensorflow_serving/config/ssl_config.pb.h"
#include "tensorflow_serving/servables/tensorflow/session_bundle_config.pb.h"

namespace savant::server {
namespace {

using tensorflow::serving::ModelServerConfig;

// In-flight requests get this long to finish once shutdown begins.
constexpr absl::Duration kDrainTimeout = absl::Seconds(30);

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read \"", path, "\""));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ModelManagerOptions ManagerOptions(const ServerOptions& options, const PredictPathOptions& path_options) {
  ModelManagerOptions m;
  const std::set<std::string> tags = ParseSavedModelTags(options.saved_model_tags);
  m.load = [tags](const std::string&, int64_t, const std::filesystem::path& dir)
      -> absl::StatusOr<std::shared_ptr<const loader::Model>> {
    ASSIGN_OR_RETURN(std::unique_ptr<loader::Model> model, loader::Model::Load(dir, loader::ModelOptions{tags}));
    return std::shared_ptr<const loader::Model>(std::move(model));
  };
  if (options.enable_model_warmup) {
    const int iterations = options.num_request_iterations_for_warmup;
    m.warmup = [iterations, path_options](const LoadedVersion& version) {
      return RunWarmup(version, iterations, path_options);
    };
  }
  m.num_load_threads = options.num_load_threads;
  m.max_load_retries = std::max(0, options.max_num_load_retries);
  m.load_retry_interval = absl::Microseconds(std::max<int64_t>(0, options.load_retry_interval_micros));
  m.poll_interval = absl::Seconds(options.file_system_poll_wait_seconds);
  m.allow_version_labels_for_unavailable_models = options.allow_version_labels_for_unavailable_models;
  return m;
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {
  PredictPathOptions path_options;
  path_options.enable_signature_method_name_check = options_.enable_signature_method_name_check;
  path_options.serialize_as_tensor_content = options_.enable_serialization_as_tensor_content;
  manager_ = std::make_unique<ModelManager>(ManagerOptions(options_, path_options));
  predict_path_ = std::make_unique<PredictPath>(manager_.get(), path_options);
}

Server::~Server() { Shutdown(); }

void Server::SetRestFrontEndFactory(FrontEndFactory factory) { rest_factory_ = std::move(factory); }

absl::Status Server::CheckSideConfigFiles() const {
  // TensorFlow Serving refuses to start on an unreadable side file even when it ignores it.
  if (!options_.ssl_config_file.empty()) {
    tensorflow::serving::SSLConfig ssl;
    RETURN_IF_ERROR(ParseTextProtoFile(options_.ssl_config_file, &ssl));
  }
  if (!options_.monitoring_config_file.empty()) {
    tensorflow::serving::MonitoringConfig monitoring;
    RETURN_IF_ERROR(ParseTextProtoFile(options_.monitoring_config_file, &monitoring));
  }
  if (!options_.batching_parameters_file.empty()) {
    tensorflow::serving::BatchingParameters batching;
    RETURN_IF_ERROR(ParseTextProtoFile(options_.batching_parameters_file, &batching));
  }
  if (options_.rest_api_port != 0 && options_.rest_api_port == options_.grpc_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rest_api_port and --port must differ; both are ", options_.grpc_port));
  }
  return ParseGrpcChannelArguments(options_.grpc_channel_arguments).status();
}

absl::Status Server::Start() {
  for (const std::string& line : NotActedOnFlags(options_)) SAVANT_LOG(WARNING) << line;
  if (options_.tensorflow_intra_op_parallelism > 0) {
    if (!ThreadPool::SetDefaultThreadCount(static_cast<int>(options_.tensorflow_intra_op_parallelism))) {
      SAVANT_LOG(WARNING) << "--tensorflow_intra_op_parallelism: the engine's thread pool already exists; ignored";
    }
  }
  RETURN_IF_ERROR(CheckSideConfigFiles());
  ASSIGN_OR_RETURN(ModelServerConfig config, InitialModelServerConfig(options_));
  if (!options_.model_config_file.empty()) {
    std::lock_guard lock(mu_);
    applied_config_ = config.SerializeAsString();
  }

  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(manager_->ApplyConfig(config.model_config_list()));
  manager_->StartPolling();
  RETURN_IF_ERROR(manager_->AwaitModelsAvailable());
  SAVANT_LOG(INFO) << "state=models_loaded models=" << config.model_config_list().config_size()
                   << " load_ms=" << absl::ToInt64Milliseconds(absl::Now() - start);

  // Shutdown() may run on another thread from here on; it waits for start_mu_ before it touches
  // the front ends.
  std::lock_guard start_lock(start_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
  }
  GrpcFrontEndDeps deps;
  deps.predict_path = predict_path_.get();
  deps.reload_config = [this](const ModelServerConfig& c) { return ReloadConfig(c); };
  deps.ready = [this] { return ready(); };
  grpc_ = MakeGrpcFrontEnd(options_, std::move(deps));
  RETURN_IF_ERROR(grpc_->Start());

  if (options_.rest_api_port == 0) {
    SAVANT_LOG(INFO) << "api=rest state=disabled reason=\"--rest_api_port=0\"";
  } else if (!rest_factory_) {
    SAVANT_LOG(INFO) << "api=rest state=disabled reason=\"the REST API is not built yet (issue #7)\"";
  } else {
    ASSIGN_OR_RETURN(rest_, rest_factory_(*this));
    RETURN_IF_ERROR(rest_->Start());
  }
  RETURN_IF_ERROR(WritePortFile());
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    started_ = true;
  }
  if (!options_.model_config_file.empty() && options_.model_config_file_poll_wait_seconds > 0) {
    config_poll_thread_ = std::jthread([this](std::stop_token stop) { ConfigFilePollLoop(stop); });
  }
  SAVANT_LOG(INFO) << "state=serving grpc_port=" << grpc_port() << " rest_port=" << rest_port()
                   << " version=" << kSavantVersion;
  return absl::OkStatus();
}

absl::Status Server::WritePortFile() const {
  if (options_.port_file.empty()) return absl::OkStatus();
  const std::string tmp = absl::StrCat(options_.port_file, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"grpc_port\": " << grpc_port() << ", \"rest_port\": " << rest_port() << "}\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write --port_file \"", tmp, "\""));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.port_file, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot rename \"", tmp, "\" to --port_file \"", options_.port_file,
                                            "\": ", ec.message()));
  }
  return absl::OkStatus();
}

void Server::ConfigFilePollLoop(std::stop_token stop) {
  const auto interval = std::chrono::seconds(options_.model_config_file_poll_wait_seconds);
  std::mutex wait_mu;
  std::condition_variable_any wait_cv;
  while (true) {
    {
      std::unique_lock lock(wait_mu);
      wait_cv.wait_for(lock, stop, interval, [] { return false; });
    }
    if (stop.stop_requested()) return;
    auto text = ReadFile(options_.model_config_file);
    if (!text.ok()) {
      SAVANT_LOG(ERROR) << "config state=unreadable file=" << options_.model_config_file << " error=\""
                        << text.status().message() << "\"";
      continue;
    }
    auto config = ParseModelServerConfig(*text, options_.model_config_file);
    if (!config.ok()) {
      SAVANT_LOG(ERROR) << "config state=invalid error=\"" << config.status().message() << "\"";
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (config->SerializeAsString() == applied_config_) continue;
    }
    absl::Status status = ReloadConfigFile();
    if (!status.ok()) SAVANT_LOG(ERROR) << "config state=reload_failed error=\"" << status.message() << "\"";
  }
}

absl::Status Server::ReloadConfig(const ModelServerConfig& config) {
  if (config.config_case() != ModelServerConfig::kModelConfigList) {
    return absl::InvalidArgumentError(
        "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently "
        "supported");
  }
  std::lock_guard reload(reload_mu_);
  SAVANT_LOG(INFO) << "config state=reloading models=" << config.model_config_list().config_size();
  return manager_->ApplyConfig(config.model_config_list());
}

absl::Status Server::ReloadConfigFile() {
  if (options_.model_config_file.empty()) {
    return absl::FailedPreconditionError("no --model_config_file to reload");
  }
  ModelServerConfig config;
  RETURN_IF_ERROR(ParseTextProtoFile(options_.model_config_file, &config));
  {
    std::lock_guard lock(mu_);
    applied_config_ = config.SerializeAsString();
  }
  return ReloadConfig(config);
}

bool Server::ready() const {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return false;
  }
  return manager_->AllModelsAvailable();
}

int Server::grpc_port() const { return grpc_ ? grpc_->port() : 0; }
int Server::rest_port() const { return rest_ ? rest_->port() : 0; }

void Server::Shutdown() {
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      cv_.wait(lock, [&] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  SAVANT_LOG(INFO) << "state=stopping";
  const absl::Time start = absl::Now();
  manager_->BeginShutdown();  // also wakes a Start() still waiting for its models
  std::lock_guard start_lock(start_mu_);
  if (grpc_) grpc_->BeginShutdown();
  if (rest_) rest_->BeginShutdown();
  if (config_poll_thread_.joinable()) {
    config_poll_thread_.request_stop();
    config_poll_thread_.join();
  }
  const absl::Time deadline = absl::Now() + kDrainTimeout;
  if (rest_) rest_->Shutdown(deadline);
  if (grpc_) grpc_->Shutdown(deadline);
  manager_->Shutdown();
  SAVANT_LOG(INFO) << "state=stopped shutdown_ms=" << absl::ToInt64Milliseconds(absl::Now() - start);
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

void Server::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stopped_; });
}

}  // namespace savant::server
