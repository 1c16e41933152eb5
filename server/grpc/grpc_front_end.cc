#include "server/grpc/grpc_front_end.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
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
#include "server/status_mapping.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tensorflow_serving/config/ssl_config.pb.h"

namespace savant::server {
namespace {

namespace tfs = tensorflow::serving;

// Requests kept posted per method and completion queue, so a burst does not wait for re-posting.
constexpr int kPostedPerMethod = 2;

const char* const kServiceNames[] = {"tensorflow.serving.PredictionService", "tensorflow.serving.ModelService",
                                     "inference.GRPCInferenceService"};

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
    SAVANT_LOG(INFO) << "api=grpc state=listening address=" << (tcp ? absl::StrCat("0.0.0.0:", port_) : "")
                     << (options_.grpc_socket_path.empty() ? "" : " socket=") << options_.grpc_socket_path
                     << " threads=" << threads << " tls=" << (options_.ssl_config_file.empty() ? "off" : "on")
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
    // Stop accepting new connections and streams; calls already received keep being matched
    // (requests stay posted) and finish, until the deadline, when the rest are cancelled.
    server_->Shutdown(absl::ToChronoTime(deadline));
    // No call is in flight any more, so nothing posts requests after this point.
    shutting_down_.store(true, std::memory_order_release);
    // Slow calls finish on the executor, which must be done before the queues go away.
    executor_.request_stop();
    exec_cv_.notify_all();
    if (executor_.joinable()) executor_.join();
    for (auto& cq : cqs_) cq->Shutdown();
    for (auto& t : pollers_) t.join();
    SAVANT_LOG(INFO) << "api=grpc state=stopped";
  }

 private:
  template <typename Request, typename Response>
  void Add(typename UnaryMethod<Request, Response>::RequestFn request,
           std::function<absl::Status(const Request&, Response*)> handle, bool slow = false) {
    auto wrapped = [handle = std::move(handle)](grpc::ServerContext& context, const Request& req, Response* resp) {
      grpc::Status deadline = CheckDeadline(context);
      if (!deadline.ok()) return deadline;
      return ToGrpcStatus(handle(req, resp));
    };
    typename UnaryMethod<Request, Response>::Executor executor;
    if (slow) executor = [this](std::function<void()> work) { Schedule(std::move(work)); };
    methods_.push_back(std::make_unique<UnaryMethod<Request, Response>>(std::move(request), std::move(wrapped),
                                                                        std::move(executor), &shutting_down_));
  }

  void AddMethods() {
    const PredictPath* path = deps_.predict_path;
    auto* ps = &prediction_service_;
    auto* ms = &model_service_;
    auto* ks = &kserve_service_;
#define SAVANT_REQUEST(service, Method)                                                        \
  [service](grpc::ServerContext* c, auto* req, auto* resp, grpc::ServerCompletionQueue* cq, \
            void* tag) { service->Request##Method(c, req, resp, cq, cq, tag); }

    Add<tfs::PredictRequest, tfs::PredictResponse>(SAVANT_REQUEST(ps, Predict), [path](const auto& req, auto* resp) {
      return path->Predict(req, resp);
    });
    Add<tfs::ClassificationRequest, tfs::ClassificationResponse>(
        SAVANT_REQUEST(ps, Classify), [path](const auto& req, auto* resp) { return path->Classify(req, resp); });
    Add<tfs::RegressionRequest, tfs::RegressionResponse>(
        SAVANT_REQUEST(ps, Regress), [path](const auto& req, auto* resp) { return path->Regress(req, resp); });
    Add<tfs::MultiInferenceRequest, tfs::MultiInferenceResponse>(
        SAVANT_REQUEST(ps, MultiInference),
        [path](const auto& req, auto* resp) { return path->MultiInference(req, resp); });
    Add<tfs::GetModelMetadataRequest, tfs::GetModelMetadataResponse>(
        SAVANT_REQUEST(ps, GetModelMetadata),
        [path](const auto& req, auto* resp) { return path->GetModelMetadata(req, resp); });
    Add<tfs::GetModelStatusRequest, tfs::GetModelStatusResponse>(
        SAVANT_REQUEST(ms, GetModelStatus),
        [path](const auto& req, auto* resp) { return path->GetModelStatus(req, resp); });
    auto reload = deps_.reload_config;
    Add<tfs::ReloadConfigRequest, tfs::ReloadConfigResponse>(
        SAVANT_REQUEST(ms, HandleReloadConfigRequest),
        [reload](const tfs::ReloadConfigRequest& req, tfs::ReloadConfigResponse* resp) {
          absl::Status status = reload(req.config());
          *resp->mutable_status() = ToStatusProto(status);
          return status;
        },
        /*slow=*/true);
    Add<inference::ServerLiveRequest, inference::ServerLiveResponse>(
        SAVANT_REQUEST(ks, ServerLive), [](const auto&, auto* resp) {
          resp->set_live(true);
          return absl::OkStatus();
        });
    auto ready = deps_.ready;
    Add<inference::ServerReadyRequest, inference::ServerReadyResponse>(SAVANT_REQUEST(ks, ServerReady),
                                                                       [ready](const auto&, auto* resp) {
                                                                         resp->set_ready(ready());
                                                                         return absl::OkStatus();
                                                                       });
    Add<inference::ModelReadyRequest, inference::ModelReadyResponse>(
        SAVANT_REQUEST(ks, ModelReady), [path](const auto& req, auto* resp) { return KServeModelReady(*path, req, resp); });
    Add<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(
        SAVANT_REQUEST(ks, ServerMetadata), [](const auto&, auto* resp) {
          KServeServerMetadata(resp);
          return absl::OkStatus();
        });
    Add<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(
        SAVANT_REQUEST(ks, ModelMetadata),
        [path](const auto& req, auto* resp) { return KServeModelMetadata(*path, req, resp); });
    Add<inference::ModelInferRequest, inference::ModelInferResponse>(
        SAVANT_REQUEST(ks, ModelInfer), [path](const auto& req, auto* resp) { return KServeModelInfer(*path, req, resp); });
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
  std::atomic<bool> shutting_down_{false};
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
