// The server's configuration: TensorFlow Serving's command-line flags (same names, defaults and
// meaning, so `savant` drops in for `tensorflow_model_server`), parsed into ServerOptions, and the
// text-format files those flags name (ModelServerConfig, SSLConfig, ...). Pure parsing; nothing here
// starts threads or opens ports. server/serve_main.cc calls ParseServerFlags and hands the options
// to server::Server.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace savant::server {

inline constexpr char kSavantVersion[] = "0.1.0";

// Every flag `savant` accepts, with TensorFlow Serving's defaults. Thread-compatible value type.
struct ServerOptions {
  ServerOptions();

  // gRPC.
  int32_t grpc_port = 8500;  // --port; 0 picks a free port (see --port_file) unless a socket path is set
  std::string grpc_socket_path;
  std::string grpc_channel_arguments;
  int32_t grpc_max_threads = 0;  // set from the core count by the constructor
  bool enable_grpc_healthcheck_service = false;
  std::string ssl_config_file;

  // REST (issue #7).
  int32_t rest_api_port = 8501;
  int32_t rest_api_num_threads = 0;  // set from the core count by the constructor
  int32_t rest_api_timeout_in_ms = 30000;
  bool rest_api_enable_cors_support = false;
  // Savant only: REST request limits (413 for a larger body, 431 for larger headers, 400 for a
  // larger JSON tensor).
  int64_t rest_max_body_bytes = 64LL << 20;
  int32_t rest_max_header_bytes = 64 << 10;
  int64_t rest_max_tensor_elements = 64LL << 20;

  // Models.
  std::string model_name = "default";
  std::string model_base_path;
  std::string model_config_file;
  int32_t model_config_file_poll_wait_seconds = 0;
  int32_t file_system_poll_wait_seconds = 1;
  int32_t num_load_threads = 0;
  int32_t num_unload_threads = 0;
  int32_t max_num_load_retries = 5;
  int64_t load_retry_interval_micros = 60LL * 1000 * 1000;
  std::string saved_model_tags = "serve";
  bool allow_version_labels_for_unavailable_models = false;
  bool enable_model_warmup = true;
  int32_t num_request_iterations_for_warmup = 0;
  bool enable_signature_method_name_check = false;
  bool enable_serialization_as_tensor_content = false;

  // Engine.
  int64_t tensorflow_intra_op_parallelism = 0;
  int64_t tensorflow_inter_op_parallelism = 0;
  int64_t tensorflow_session_parallelism = 0;

  // Accepted, not acted on yet (a WARNING at start names each one that is set).
  bool enable_batching = false;
  std::string batching_parameters_file;

  // Monitoring: --monitoring_config_file (a MonitoringConfig text proto), and what ParseServerFlags
  // read from it. The REST front end serves the Prometheus page at prometheus_path on the REST port
  // when prometheus_enabled.
  std::string monitoring_config_file;
  bool prometheus_enabled = false;
  std::string prometheus_path;

  // Savant only: after binding, write {"grpc_port": N, "rest_port": M} here (atomically).
  std::string port_file;

  bool help = false;
  bool version = false;

  // Flags given on the command line with a value other than their default.
  std::set<std::string> set_flags;
};

// Parses `args` (without the program name). Accepts --flag=value and --flag value (and a single
// leading dash); booleans also take the bare --flag for true and --flag=true|false|1|0.
// INVALID_ARGUMENT naming the flag for unknown flags, missing values and values of the wrong type.
// Also reads --monitoring_config_file (ReadMonitoringConfig), failing as it does.
absl::StatusOr<ServerOptions> ParseServerFlags(const std::vector<std::string>& args);

// Reads options.monitoring_config_file (TensorFlow Serving's MonitoringConfig, e.g.
// `prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }`) into
// prometheus_enabled and prometheus_path; an empty path means "/monitoring/prometheus/metrics", as
// in TensorFlow Serving. Nothing changes for an empty file name. Errors as ParseTextProtoFile, and
// INVALID_ARGUMENT when the path does not start with '/'.
absl::Status ReadMonitoringConfig(ServerOptions& options);

// The --help text: every flag with its type, default and meaning.
std::string ServerFlagsUsage();

// One line per flag that the user set but the server does not act on yet, saying why
// ("--enable_batching: accepted but not acted on yet: ...").
std::vector<std::string> NotActedOnFlags(const ServerOptions& options);

// "k1=v1,k2=v2" as TensorFlow Serving's --grpc_channel_arguments; INVALID_ARGUMENT for an entry
// without '='.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseGrpcChannelArguments(
    const std::string& text);

// --saved_model_tags "serve,gpu" as a set; {"serve"} for an empty string.
std::set<std::string> ParseSavedModelTags(const std::string& text);

// Reads a text-format proto. NOT_FOUND when the file is missing; INVALID_ARGUMENT
// "Invalid protobuf file: 'path'" followed by the parser's line, column and complaint.
absl::Status ParseTextProtoFile(const std::string& path, google::protobuf::Message* message);

// Parses ModelServerConfig text (the --model_config_file format); `label` names the source in
// errors. INVALID_ARGUMENT as ParseTextProtoFile.
absl::StatusOr<tensorflow::serving::ModelServerConfig> ParseModelServerConfig(const std::string& text,
                                                                             const std::string& label);

// The config the server starts with: --model_config_file when given (--model_name and
// --model_base_path are then ignored, as in TensorFlow Serving), else one model named
// --model_name at --model_base_path (made absolute). INVALID_ARGUMENT when neither is given, or
// for a config that is not a model_config_list.
absl::StatusOr<tensorflow::serving::ModelServerConfig> InitialModelServerConfig(const ServerOptions& options);

}  // namespace savant::server
