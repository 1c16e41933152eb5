#include "server/server_config.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/metrics.h"
#include "tensorflow_serving/config/monitoring_config.pb.h"

namespace savant::server {
namespace {

using tensorflow::serving::ModelServerConfig;

// A flag without a field: accepted for compatibility, its value is checked and dropped.
struct NoField {
  enum class Type { kBool, kInt, kFloat, kString } type;
};
using Field = std::variant<bool ServerOptions::*, int32_t ServerOptions::*, int64_t ServerOptions::*,
                           std::string ServerOptions::*, NoField>;

struct FlagSpec {
  const char* name;
  Field field;
  const char* help;
  // Empty when the server acts on the flag; otherwise why it does not (yet).
  const char* not_acted_on = "";
};

constexpr char kTensorFlowOnly[] = "it configures TensorFlow internals that Savant does not have";

const std::vector<FlagSpec>& Flags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"port", &ServerOptions::grpc_port,
       "TCP port to listen on for the gRPC API. 0 picks a free port (see --port_file), or disables TCP "
       "when --grpc_socket_path is set."},
      {"grpc_socket_path", &ServerOptions::grpc_socket_path,
       "If non-empty, listen to a UNIX socket for the gRPC API on the given path."},
      {"rest_api_port", &ServerOptions::rest_api_port,
       "Port to listen on for the HTTP/REST API. If set to zero the HTTP/REST API is not exported. Must "
       "differ from --port."},
      {"rest_api_num_threads", &ServerOptions::rest_api_num_threads,
       "Number of threads for HTTP/REST API processing. Defaults to 4 per CPU."},
      {"rest_api_timeout_in_ms", &ServerOptions::rest_api_timeout_in_ms,
       "Timeout for HTTP/REST API calls: the longest a client may take to send a request or read an "
       "answer, and the longest an idle keep-alive connection stays open."},
      {"rest_api_enable_cors_support", &ServerOptions::rest_api_enable_cors_support,
       "Enable CORS headers in responses."},
      {"rest_max_body_bytes", &ServerOptions::rest_max_body_bytes,
       "Savant only: largest REST request body; larger ones get 413."},
      {"rest_max_header_bytes", &ServerOptions::rest_max_header_bytes,
       "Savant only: largest REST request header block; larger ones get 431."},
      {"rest_max_tensor_elements", &ServerOptions::rest_max_tensor_elements,
       "Savant only: most elements one JSON input tensor may hold; more gets 400."},
      {"enable_batching", &ServerOptions::enable_batching, "Enable batching.",
       "request batching is not implemented yet"},
      {"enable_per_model_batching_parameters", NoField{NoField::Type::kBool},
       "Read batching parameters from batching_params.pbtxt in each SavedModel directory.",
       "request batching is not implemented yet"},
      {"allow_version_labels_for_unavailable_models", &ServerOptions::allow_version_labels_for_unavailable_models,
       "If true, allows assigning unused version labels to models that are not available yet."},
      {"batching_parameters_file", &ServerOptions::batching_parameters_file,
       "If non-empty, read an ascii BatchingParameters protobuf from the supplied file name.",
       "request batching is not implemented yet"},
      {"model_config_file", &ServerOptions::model_config_file,
       "If non-empty, read an ascii ModelServerConfig protobuf from the supplied file name, and serve the "
       "models in that file. (If used, --model_name and --model_base_path are ignored.)"},
      {"model_config_file_poll_wait_seconds", &ServerOptions::model_config_file_poll_wait_seconds,
       "Interval in seconds between each poll of the filesystem for model_config_file. If zero, the file "
       "is read once (and again on SIGHUP)."},
      {"model_name", &ServerOptions::model_name, "Name of the model (ignored if --model_config_file is set)."},
      {"model_base_path", &ServerOptions::model_base_path,
       "Path to the model's versions (ignored if --model_config_file is set, otherwise required)."},
      {"num_load_threads", &ServerOptions::num_load_threads,
       "Number of threads loading model versions. 0 loads one version at a time."},
      {"num_unload_threads", &ServerOptions::num_unload_threads,
       "Number of threads unloading model versions.",
       "versions are unloaded by one lifecycle thread once their last request finishes"},
      {"max_num_load_retries", &ServerOptions::max_num_load_retries,
       "Maximum number of times a failed load is retried before giving up. 0 tries once."},
      {"load_retry_interval_micros", &ServerOptions::load_retry_interval_micros,
       "Interval in microseconds between load retries. Negative: no wait."},
      {"file_system_poll_wait_seconds", &ServerOptions::file_system_poll_wait_seconds,
       "Interval in seconds between each poll of the filesystem for new model versions. If zero, the "
       "filesystem is polled exactly once."},
      {"flush_filesystem_caches", NoField{NoField::Type::kBool},
       "Flush filesystem caches after loads.", kTensorFlowOnly},
      {"tensorflow_session_parallelism", &ServerOptions::tensorflow_session_parallelism,
       "Number of threads to use for running a TensorFlow session.",
       "use --tensorflow_intra_op_parallelism to size the engine's thread pool"},
      {"tensorflow_session_config_file", NoField{NoField::Type::kString},
       "A TensorFlow Session ConfigProto text file.", kTensorFlowOnly},
      {"tensorflow_intra_op_parallelism", &ServerOptions::tensorflow_intra_op_parallelism,
       "Number of threads of the engine's thread pool (parallelism within and across ops). 0: one per core."},
      {"tensorflow_inter_op_parallelism", &ServerOptions::tensorflow_inter_op_parallelism,
       "Number of ops that may run at the same time.",
       "the engine uses one thread pool, sized by --tensorflow_intra_op_parallelism"},
      {"use_alts_credentials", NoField{NoField::Type::kBool}, "Use Google ALTS credentials.",
       "ALTS is only available on Google Cloud; use --ssl_config_file"},
      {"ssl_config_file", &ServerOptions::ssl_config_file,
       "If non-empty, read an ascii SSLConfig protobuf from the supplied file name and serve gRPC over TLS."},
      {"platform_config_file", NoField{NoField::Type::kString},
       "A PlatformConfigMap text file.", "Savant serves the tensorflow platform only"},
      {"per_process_gpu_memory_fraction", NoField{NoField::Type::kFloat},
       "Fraction of GPU memory to allocate.", "Savant runs on CPUs"},
      {"saved_model_tags", &ServerOptions::saved_model_tags,
       "Comma-separated set of tags selecting the meta graph to load from each SavedModel."},
      {"grpc_channel_arguments", &ServerOptions::grpc_channel_arguments,
       "A comma separated list of arguments to be passed to the grpc server (e.g. "
       "grpc.max_connection_age_ms=2000)."},
      {"grpc_max_threads", &ServerOptions::grpc_max_threads,
       "Max gRPC server threads (a resource quota; requests are served by one polling thread per core)."},
      {"enable_model_warmup", &ServerOptions::enable_model_warmup,
       "Replay assets.extra/tf_serving_warmup_requests before a version serves."},
      {"num_request_iterations_for_warmup", &ServerOptions::num_request_iterations_for_warmup,
       "Number of times each warmup request is replayed. Used only if > 0."},
      {"version", &ServerOptions::version, "Display the version and exit."},
      {"monitoring_config_file", &ServerOptions::monitoring_config_file,
       "If non-empty, read an ascii MonitoringConfig protobuf from the supplied file name. With "
       "prometheus_config { enable: true }, metrics are served on the REST port at its path "
       "(default /monitoring/prometheus/metrics)."},
      {"remove_unused_fields_from_bundle_metagraph", NoField{NoField::Type::kBool},
       "Removes unused fields from MetaGraphDef to save memory.", kTensorFlowOnly},
      {"prefer_tflite_model", NoField{NoField::Type::kBool}, "Prefer model.tflite in SavedModel directories.",
       "Savant does not run TensorFlow Lite models"},
      {"num_tflite_pools", NoField{NoField::Type::kInt}, "Number of TFLite interpreter pools.",
       "Savant does not run TensorFlow Lite models"},
      {"num_tflite_interpreters_per_pool", NoField{NoField::Type::kInt}, "TFLite interpreters per pool.",
       "Savant does not run TensorFlow Lite models"},
      {"enable_signature_method_name_check", &ServerOptions::enable_signature_method_name_check,
       "Check SignatureDef method_name for Predict, Classify and Regress (off by default, as TF2 models "
       "often export every signature as predict)."},
      {"xla_cpu_compilation_enabled", NoField{NoField::Type::kBool}, "Enable XLA:CPU JIT.", kTensorFlowOnly},
      {"enable_profiler", NoField{NoField::Type::kBool}, "Enable the profiler service.", kTensorFlowOnly},
      {"thread_pool_factory_config_file", NoField{NoField::Type::kString}, "A ThreadPoolConfig text file.",
       kTensorFlowOnly},
      {"mixed_precision", NoField{NoField::Type::kString}, "Mixed precision mode.", kTensorFlowOnly},
      {"skip_initialize_tpu", NoField{NoField::Type::kBool}, "Skip TPU initialization.", "Savant runs on CPUs"},
      {"enable_grpc_healthcheck_service", &ServerOptions::enable_grpc_healthcheck_service,
       "Enable the standard gRPC health checking service (grpc.health.v1.Health)."},
      {"enable_serialization_as_tensor_content", &ServerOptions::enable_serialization_as_tensor_content,
       "Serialize Predict outputs into tensor_content instead of the typed value fields."},
      {"port_file", &ServerOptions::port_file,
       "Savant only: after binding, write {\"grpc_port\": N, \"rest_port\": M} to this file (atomically)."},
      {"help", &ServerOptions::help, "Print this help and exit."},
  };
  return *flags;
}

bool IsBool(const Field& field) {
  if (std::holds_alternative<bool ServerOptions::*>(field)) return true;
  if (const auto* none = std::get_if<NoField>(&field)) return none->type == NoField::Type::kBool;
  return false;
}

const char* TypeName(const Field& field) {
  struct Visitor {
    const char* operator()(bool ServerOptions::*) const { return "bool"; }
    const char* operator()(int32_t ServerOptions::*) const { return "int32"; }
    const char* operator()(int64_t ServerOptions::*) const { return "int64"; }
    const char* operator()(std::string ServerOptions::*) const { return "string"; }
    const char* operator()(const NoField& f) const {
      switch (f.type) {
        case NoField::Type::kBool:
          return "bool";
        case NoField::Type::kInt:
          return "int32";
        case NoField::Type::kFloat:
          return "float";
        case NoField::Type::kString:
          return "string";
      }
      return "string";
    }
  };
  return std::visit(Visitor{}, field);
}

std::string ValueText(const ServerOptions& options, const Field& field) {
  struct Visitor {
    const ServerOptions& o;
    std::string operator()(bool ServerOptions::*f) const { return o.*f ? "true" : "false"; }
    std::string operator()(int32_t ServerOptions::*f) const { return absl::StrCat(o.*f); }
    std::string operator()(int64_t ServerOptions::*f) const { return absl::StrCat(o.*f); }
    std::string operator()(std::string ServerOptions::*f) const { return absl::StrCat("\"", o.*f, "\""); }
    std::string operator()(const NoField&) const { return ""; }
  };
  return std::visit(Visitor{options}, field);
}

absl::StatusOr<bool> ParseBool(const std::string& flag, const std::string& value) {
  std::string v = absl::AsciiStrToLower(value);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("flag --", flag, ": expected true or false, got \"", value, "\""));
}

// Sets `field` from `value`; returns whether the value differs from the default.
absl::StatusOr<bool> SetField(ServerOptions& options, const ServerOptions& defaults, const FlagSpec& spec,
                              const std::string& value) {
  const std::string flag = spec.name;
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", flag, ": expected ", what, ", got \"", value, "\""));
  };
  struct Visitor {
    ServerOptions& o;
    const ServerOptions& d;
    const std::string& flag;
    const std::string& value;
    decltype(bad)& fail;
    absl::StatusOr<bool> operator()(bool ServerOptions::*f) const {
      ASSIGN_OR_RETURN(o.*f, ParseBool(flag, value));
      return o.*f != d.*f;
    }
    absl::StatusOr<bool> operator()(int32_t ServerOptions::*f) const {
      if (!absl::SimpleAtoi(absl::string_view(value), &(o.*f))) return fail("a 32-bit integer");
      return o.*f != d.*f;
    }
    absl::StatusOr<bool> operator()(int64_t ServerOptions::*f) const {
      if (!absl::SimpleAtoi(absl::string_view(value), &(o.*f))) return fail("a 64-bit integer");
      return o.*f != d.*f;
    }
    absl::StatusOr<bool> operator()(std::string ServerOptions::*f) const {
      o.*f = value;
      return o.*f != d.*f;
    }
    absl::StatusOr<bool> operator()(const NoField& none) const {
      switch (none.type) {
        case NoField::Type::kBool: {
          ASSIGN_OR_RETURN(bool b, ParseBool(flag, value));
          return b;
        }
        case NoField::Type::kInt: {
          int64_t i;
          if (!absl::SimpleAtoi(absl::string_view(value), &i)) return fail("an integer");
          return i != 0;
        }
        case NoField::Type::kFloat: {
          double x;
          if (!absl::SimpleAtod(absl::string_view(value), &x)) return fail("a number");
          return x != 0;
        }
        case NoField::Type::kString:
          return !value.empty();
      }
      return true;
    }
  };
  return std::visit(Visitor{options, defaults, flag, value, bad}, spec.field);
}

const FlagSpec* FindFlag(absl::string_view name) {
  for (const auto& spec : Flags()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

int Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

class CollectingErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!errors_.empty()) errors_ += "; ";
    absl::StrAppend(&errors_, "line ", line + 1, " column ", column + 1, ": ", message);
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

absl::Status ParseTextProto(const std::string& text, const std::string& label, google::protobuf::Message* message) {
  google::protobuf::TextFormat::Parser parser;
  CollectingErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid protobuf file: '", label, "': ", errors.errors()));
  }
  return absl::OkStatus();
}

}  // namespace

ServerOptions::ServerOptions() : grpc_max_threads(4 * Cores()), rest_api_num_threads(4 * Cores()) {}

absl::StatusOr<ServerOptions> ParseServerFlags(const std::vector<std::string>& args) {
  ServerOptions options;
  const ServerOptions defaults;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--")) absl::ConsumePrefix(&arg, "-");
    if (arg.size() == args[i].size() || arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args[i], "\" (flags start with --)"));
    }
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag \"--", name, "\" (see --help)"));
    }
    if (!value.has_value()) {
      if (IsBool(spec->field)) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    ASSIGN_OR_RETURN(bool changed, SetField(options, defaults, *spec, *value));
    if (changed) {
      options.set_flags.insert(spec->name);
    } else {
      options.set_flags.erase(spec->name);
    }
  }
  RETURN_IF_ERROR(ReadMonitoringConfig(options));
  return options;
}

absl::Status ReadMonitoringConfig(ServerOptions& options) {
  if (options.monitoring_config_file.empty()) return absl::OkStatus();
  tensorflow::serving::MonitoringConfig config;
  RETURN_IF_ERROR(ParseTextProtoFile(options.monitoring_config_file, &config));
  const auto& prometheus = config.prometheus_config();
  options.prometheus_enabled = prometheus.enable();
  options.prometheus_path = prometheus.path().empty() ? std::string(kDefaultPrometheusPath) : prometheus.path();
  if (options.prometheus_enabled && options.prometheus_path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("\"", options.monitoring_config_file,
                                                   "\": prometheus_config path must start with '/', got \"",
                                                   options.prometheus_path, "\""));
  }
  return absl::OkStatus();
}

std::string ServerFlagsUsage() {
  const ServerOptions defaults;
  std::ostringstream out;
  out << "usage: savant [flags]   (a drop-in for tensorflow_model_server)\n"
         "       savant inspect DIR [--json] | savant run DIR --signature_def NAME --inputs ...\n"
         "Flags:\n";
  for (const auto& spec : Flags()) {
    std::string head = absl::StrCat("--", spec.name);
    std::string value = ValueText(defaults, spec.field);
    if (!value.empty()) absl::StrAppend(&head, "=", value);
    out << "\t" << head << std::string(head.size() < 48 ? 48 - head.size() : 1, ' ') << "\t" << TypeName(spec.field)
        << "\t" << spec.help;
    if (*spec.not_acted_on != '\0') out << " [accepted, not acted on: " << spec.not_acted_on << "]";
    out << "\n";
  }
  return out.str();
}

std::vector<std::string> NotActedOnFlags(const ServerOptions& options) {
  std::vector<std::string> lines;
  for (const auto& spec : Flags()) {
    if (*spec.not_acted_on == '\0' || !options.set_flags.contains(spec.name)) continue;
    lines.push_back(absl::StrCat("--", spec.name, ": accepted but not acted on yet: ", spec.not_acted_on));
  }
  return lines;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseGrpcChannelArguments(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> args;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --grpc_channel_arguments: expected key=value, got \"", item, "\""));
    }
    args.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return args;
}

std::set<std::string> ParseSavedModelTags(const std::string& text) {
  std::set<std::string> tags;
  for (absl::string_view tag : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    tags.insert(std::string(absl::StripAsciiWhitespace(tag)));
  }
  if (tags.empty()) tags.insert("serve");
  return tags;
}

absl::Status ParseTextProtoFile(const std::string& path, google::protobuf::Message* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read \"", path, "\": no such file"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseTextProto(text.str(), path, message);
}

absl::StatusOr<ModelServerConfig> ParseModelServerConfig(const std::string& text, const std::string& label) {
  ModelServerConfig config;
  RETURN_IF_ERROR(ParseTextProto(text, label, &config));
  return config;
}

absl::StatusOr<ModelServerConfig> InitialModelServerConfig(const ServerOptions& options) {
  ModelServerConfig config;
  if (!options.model_config_file.empty()) {
    RETURN_IF_ERROR(ParseTextProtoFile(options.model_config_file, &config));
    if (config.config_case() == ModelServerConfig::kCustomModelConfig) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", options.model_config_file, "\": custom_model_config is not supported; use model_config_list"));
    }
    return config;
  }
  if (options.model_base_path.empty()) {
    return absl::InvalidArgumentError(
        "Both server_options.model_base_path and server_options.model_config_file are empty!");
  }
  auto* model = config.mutable_model_config_list()->add_config();
  model->set_name(options.model_name);
  model->set_base_path(std::filesystem::absolute(options.model_base_path).lexically_normal().string());
  model->set_model_platform("tensorflow");
  return config;
}

}  // namespace savant::server
