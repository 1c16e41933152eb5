#include "server/grpc/grpc_front_end.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "kserve/grpc_predict_v2.grpc.pb.h"
#include "server/grpc/async_call.h"
#include "server/grpc/kserve_service.h"
#include "server/metrics.h"
#include "server/status_mapping.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tensorflow_serving/config/ssl_config.pb.h"

namespace savant::server {
namespace {

namespace tfs = tensorflow::serving;

// Requests kept posted per method and completion queue, so a burst does not wait for re-posting.
constexpr int kPostedPerMethod = 2;

const char* const kServiceNames[] = {"tensorflow.serving.PredictionService",
                                     "tensorflow.serving.ModelService",
                                     "inference.GRPCInferenceService"};

// The labels a finished call is recorded under (Metrics::RecordRequest). Views into the request
// and response, valid while the call runs.
struct CallLabels {
  absl::string_view model;
  int64_t version = 0;  // 0: not known
  absl::string_view signature;
};

absl::string_view SignatureOf(const std::string& name) {
  return name.empty() ? absl::string_view("serving_default") : absl::string_view(name);
}

// The response's model_spec names the version that served; a failed call only has what the
// request asked for.
CallLabels FromSpecs(const tfs::ModelSpec& request, const tfs::ModelSpec* response,
                     bool signature) {
  const tfs::ModelSpec& spec =
      response != nullptr && !response->name().empty() ? *response : request;
  CallLabels labels{spec.name(), spec.has_version() ? spec.version().value() : 0, ""};
  if (signature) labels.signature = SignatureOf(spec.signature_name());
  return labels;
}

template <typename Request, typename Response>
CallLabels LabelsOf(const Request& req, const Response& resp, bool ok) {
  if constexpr (requires {
                  req.model_spec();
                  resp.model_spec();
                }) {
    constexpr bool kSignature = !std::is_same_v<Request, tfs::GetModelMetadataRequest>;
    return FromSpecs(req.model_spec(), ok ? &resp.model_spec() : nullptr, kSignature);
  } else if constexpr (std::is_same_v<Request, tfs::MultiInferenceRequest>) {
    if (req.tasks().empty()) return {};
    return FromSpecs(req.tasks(0).model_spec(),
                     ok && !resp.results().empty() ? &resp.results(0).model_spec() : nullptr, true);
  } else if constexpr (std::is_same_v<Request, tfs::GetModelStatusRequest>) {
    return FromSpecs(req.model_spec(), nullptr, false);
  } else if constexpr (std::is_same_v<Request, inference::ModelInferRequest>) {
    CallLabels labels{req.model_name(), 0, "serving_default"};
    const std::string& version = ok ? resp.model_version() : req.model_version();
    if (!absl::SimpleAtoi(absl::string_view(version), &labels.version)) labels.version = 0;
    if (auto p = req.parameters().find("signature_name");
        p != req.parameters().end() && !p->second.string_param().empty()) {
      labels.signature = p->second.string_param();
    }
    return labels;
  } else if constexpr (requires {
                         req.name();
                         req.version();
                       }) {
    CallLabels labels{req.name(), 0, ""};
    if (!absl::SimpleAtoi(absl::string_view(req.version()), &labels.version)) labels.version = 0;
    return labels;
  } else {
    return {};
  }
}

// A call whose deadline passed while it waited in the queue is not worth running.
grpc::Status CheckDeadline(const grpc::ServerContext& context) {
  if (context.deadline() < std::chrono::system_clock::now()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded before the request ran");
  }
  return grpc::Status::OK;
}

class GrpcFrontEnd final : public FrontEnd {
 public:
  GrpcFrontEnd(const ServerOptions& options, GrpcFrontEndDeps deps) : options_(options), deps_(std::move(deps)) {}

  ~GrpcFrontEnd() override { Shutdown(absl::Now()); }

  const char* name() const override { return "grpc"; }
  int port() const override { return port_; }

  absl::Status Start() override {
    if (options_.enable_grpc_healthcheck_service) grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();

    grpc::ServerBuilder builder;
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (!options_.ssl_config_file.empty()) {
      tfs::SSLConfig ssl;
      RETURN_IF_ERROR(ParseTextProtoFile(options_.ssl_config_file, &ssl));
      grpc::SslServerCredentialsOptions ssl_options(
          ssl.client_verify() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      ssl_options.pem_root_certs = ssl.custom_ca();
      ssl_options.pem_key_cert_pairs.push_back({ssl.server_key(), ssl.server_cert()});
      credentials = grpc::SslServerCredentials(ssl_options);
    }
    // As TensorFlow Serving: --port=0 with a socket path serves the socket only; without one,
    // Savant picks a free port (and reports it in --port_file).
    const bool tcp = options_.grpc_port != 0 || options_.grpc_socket_path.empty();
    const std::string address = absl::StrCat("0.0.0.0:", options_.grpc_port);
    if (tcp) builder.AddListeningPort(address, credentials, &port_);
    if (!options_.grpc_socket_path.empty()) {
      builder.AddListeningPort(absl::StrCat("unix:", options_.grpc_socket_path), credentials);
    }
    builder.SetMaxReceiveMessageSize(INT_MAX);
    builder.SetMaxSendMessageSize(INT_MAX);
    ASSIGN_OR_RETURN(auto channel_args, ParseGrpcChannelArguments(options_.grpc_channel_arguments));
    for (const auto& [key, value] : channel_args) {
      int number = 0;
      if (absl::SimpleAtoi(absl::string_view(value), &number)) {
        builder.AddChannelArgument(key, number);
      } else {
        builder.AddChannelArgument(key, value);
      }
    }
    if (options_.grpc_max_threads > 0) {
      grpc::ResourceQuota quota("savant_grpc");
      quota.SetMaxThreads(std::max(options_.grpc_max_threads, 2));
      builder.SetResourceQuota(quota);
    }
    builder.RegisterService(&prediction_service_);
    builder.RegisterService(&model_service_);
    builder.RegisterService(&kserve_service_);
    const int threads = std::max(1u, std::thread::hardware_concurrency());
    for (int i = 0; i < threads; ++i) cqs_.push_back(builder.AddCompletionQueue());
    AddMethods();

    server_ = builder.BuildAndStart();
    if (server_ == nullptr || (tcp && port_ == 0)) {
      server_.reset();
      return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", tcp ? address : "",
                                                 options_.grpc_socket_path.empty() ? "" : " unix:",
                                                 options_.grpc_socket_path, " (port in use?)"));
    }
    if (auto* health = server_->GetHealthCheckService()) {
      health->SetServingStatus(true);
      for (const char* service : kServiceNames) health->SetServingStatus(service, true);
    }
    executor_ = std::jthread([this](std::stop_token stop) { ExecutorLoop(stop); });
    for (auto& cq : cqs_) {
      for (const auto& method : methods_) {
        for (int i = 0; i < kPostedPerMethod; ++i) method->Post(cq.get());
      }
    }
    for (auto& cq : cqs_) {
      grpc::ServerCompletionQueue* queue = cq.get();
      pollers_.emplace_back([queue] {
        void* tag = nullptr;
        bool ok = false;
        while (queue->Next(&tag, &ok)) static_cast<AsyncCall*>(tag)->Proceed(ok);
      });
    }
    SAVANT_LOG(INFO) << "api=grpc state=listening address="
                     << (tcp ? absl::StrCat("0.0.0.0:", port_) : "")
                     << (options_.grpc_socket_path.empty() ? "" : " socket=")
                     << options_.grpc_socket_path << " threads=" << threads
                     << " tls=" << (options_.ssl_config_file.empty() ? "off" : "on")
                     << " health=" << (options_.enable_grpc_healthcheck_service ? "on" : "off");
    return absl::OkStatus();
  }

  void BeginShutdown() override {
    if (server_ == nullptr) return;
    if (auto* health = server_->GetHealthCheckService()) {
      health->SetServingStatus(false);
      for (const char* service : kServiceNames) health->SetServingStatus(service, false);
    }
  }

  void Shutdown(absl::Time deadline) override {
    if (server_ == nullptr || stopped_.exchange(true)) return;
    // Drain (see async_call.h): calls already running finish, new ones are refused with
    // UNAVAILABLE, until the deadline.
    drain_.draining.store(true);
    while (drain_.running.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Microseconds(200));
    // Nothing of ours is running: stop accepting, and cancel at once whatever gRPC still holds
    // (calls that arrived but were never matched, refusals still being sent).
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    // No call is in flight any more, so nothing posts requests after this point.
    drain_.shutting_down.store(true);
    // Slow calls finish on the executor, which must be done before the queues go away.
    executor_.request_stop();
    exec_cv_.notify_all();
    if (executor_.joinable()) executor_.join();
    for (auto& cq : cqs_) cq->Shutdown();
    for (auto& t : pollers_) t.join();
    SAVANT_LOG(INFO) << "api=grpc state=stopped";
  }

 private:
  // `api` names the method in savant_requests_total ("predict", "kserve_model_infer", ...).
  template <typename Request, typename Response>
  void Add(const char* api, typename UnaryMethod<Request, Response>::RequestFn request,
           std::function<absl::Status(const Request&, Response*)> handle, bool slow = false) {
    auto wrapped = [api, handle = std::move(handle)](grpc::ServerContext& context,
                                                     const Request& req, Response* resp) {
      const auto start = std::chrono::steady_clock::now();
      grpc::Status status = CheckDeadline(context);
      absl::StatusCode code = static_cast<absl::StatusCode>(status.error_code());
      if (status.ok()) {
        absl::Status result = handle(req, resp);
        code = result.code();
        status = ToGrpcStatus(result);
      }
      const CallLabels labels = LabelsOf(req, *resp, code == absl::StatusCode::kOk);
      Metrics::Global().RecordRequest(labels.model, labels.version, labels.signature, api, "grpc",
                                      code,
                                      absl::FromChrono(std::chrono::steady_clock::now() - start));
      return status;
    };
    typename UnaryMethod<Request, Response>::Executor executor;
    if (slow) executor = [this](std::function<void()> work) { Schedule(std::move(work)); };
    methods_.push_back(std::make_unique<UnaryMethod<Request, Response>>(
        std::move(request), std::move(wrapped), std::move(executor), &drain_));
  }

  void AddMethods() {
    const PredictPath* path = deps_.predict_path;
    auto* ps = &prediction_service_;
    auto* ms = &model_service_;
    auto* ks = &kserve_service_;
#define SAVANT_REQUEST(service, Method)                                                     \
  [service](grpc::ServerContext* c, auto* req, auto* resp, grpc::ServerCompletionQueue* cq, \
            void* tag) { service->Request##Method(c, req, resp, cq, cq, tag); }

    Add<tfs::PredictRequest, tfs::PredictResponse>(
        "predict", SAVANT_REQUEST(ps, Predict),
        [path](const auto& req, auto* resp) { return path->Predict(req, resp); });
    Add<tfs::ClassificationRequest, tfs::ClassificationResponse>(
        "classify", SAVANT_REQUEST(ps, Classify),
        [path](const auto& req, auto* resp) { return path->Classify(req, resp); });
    Add<tfs::RegressionRequest, tfs::RegressionResponse>(
        "regress", SAVANT_REQUEST(ps, Regress),
        [path](const auto& req, auto* resp) { return path->Regress(req, resp); });
    Add<tfs::MultiInferenceRequest, tfs::MultiInferenceResponse>(
        "multi_inference", SAVANT_REQUEST(ps, MultiInference),
        [path](const auto& req, auto* resp) { return path->MultiInference(req, resp); });
    Add<tfs::GetModelMetadataRequest, tfs::GetModelMetadataResponse>(
        "get_model_metadata", SAVANT_REQUEST(ps, GetModelMetadata),
        [path](const auto& req, auto* resp) { return path->GetModelMetadata(req, resp); });
    Add<tfs::GetModelStatusRequest, tfs::GetModelStatusResponse>(
        "get_model_status", SAVANT_REQUEST(ms, GetModelStatus),
        [path](const auto& req, auto* resp) { return path->GetModelStatus(req, resp); });
    auto reload = deps_.reload_config;
    Add<tfs::ReloadConfigRequest, tfs::ReloadConfigResponse>(
        "handle_reload_config_request", SAVANT_REQUEST(ms, HandleReloadConfigRequest),
        [reload](const tfs::ReloadConfigRequest& req, tfs::ReloadConfigResponse* resp) {
          absl::Status status = reload(req.config());
          *resp->mutable_status() = ToStatusProto(status);
          return status;
        },
        /*slow=*/true);
    Add<inference::ServerLiveRequest, inference::ServerLiveResponse>(
        "kserve_server_live", SAVANT_REQUEST(ks, ServerLive), [](const auto&, auto* resp) {
          resp->set_live(true);
          return absl::OkStatus();
        });
    auto ready = deps_.ready;
    Add<inference::ServerReadyRequest, inference::ServerReadyResponse>(
        "kserve_server_ready", SAVANT_REQUEST(ks, ServerReady), [ready](const auto&, auto* resp) {
          resp->set_ready(ready());
          return absl::OkStatus();
        });
    Add<inference::ModelReadyRequest, inference::ModelReadyResponse>(
        "kserve_model_ready", SAVANT_REQUEST(ks, ModelReady),
        [path](const auto& req, auto* resp) { return KServeModelReady(*path, req, resp); });
    Add<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(
        "kserve_server_metadata", SAVANT_REQUEST(ks, ServerMetadata), [](const auto&, auto* resp) {
          KServeServerMetadata(resp);
          return absl::OkStatus();
        });
    Add<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(
        "kserve_model_metadata", SAVANT_REQUEST(ks, ModelMetadata),
        [path](const auto& req, auto* resp) { return KServeModelMetadata(*path, req, resp); });
    Add<inference::ModelInferRequest, inference::ModelInferResponse>(
        "kserve_model_infer", SAVANT_REQUEST(ks, ModelInfer),
        [path](const auto& req, auto* resp) { return KServeModelInfer(*path, req, resp); });
#undef SAVANT_REQUEST
  }

  void Schedule(std::function<void()> work) {
    std::lock_guard lock(exec_mu_);
    exec_queue_.push_back(std::move(work));
    exec_cv_.notify_one();
  }

  // Runs slow calls one at a time; on stop, finishes what is queued first.
  void ExecutorLoop(std::stop_token stop) {
    while (true) {
      std::function<void()> work;
      {
        std::unique_lock lock(exec_mu_);
        exec_cv_.wait(lock, stop, [&] { return !exec_queue_.empty(); });
        if (exec_queue_.empty()) return;
        work = std::move(exec_queue_.front());
        exec_queue_.pop_front();
      }
      work();
    }
  }

  const ServerOptions options_;
  const GrpcFrontEndDeps deps_;
  tfs::PredictionService::AsyncService prediction_service_;
  tfs::ModelService::AsyncService model_service_;
  inference::GRPCInferenceService::AsyncService kserve_service_;
  std::vector<std::unique_ptr<UnaryMethodBase>> methods_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::jthread> pollers_;
  DrainState drain_;
  std::atomic<bool> stopped_{false};
  int port_ = 0;

  std::mutex exec_mu_;
  std::condition_variable_any exec_cv_;
  std::deque<std::function<void()>> exec_queue_;
  std::jthread executor_;
};

}  // namespace

std::unique_ptr<FrontEnd> MakeGrpcFrontEnd(const ServerOptions& options, GrpcFrontEndDeps deps) {
  return std::make_unique<GrpcFrontEnd>(options, std::move(deps));
}

}  // namespace savant::server
