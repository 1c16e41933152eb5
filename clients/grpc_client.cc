// ServingClient over gRPC: TensorFlow Serving's PredictionService and ModelService, or KServe's
// GRPCInferenceService, through the stubs generated from proto/.
#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/client_impl.h"
#include "grpcpp/grpcpp.h"
#include "kserve/grpc_predict_v2.grpc.pb.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace savant::clients {
namespace {

namespace tfs = tensorflow::serving;

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// `own_connection`: a subchannel pool of its own, so each loadgen worker gets its own TCP connection
// the way each REST worker does.
std::shared_ptr<grpc::Channel> MakeChannel(const Target& target, bool own_connection) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const std::string address =
      target.host.find(':') != std::string::npos && target.host[0] != '['
          ? absl::StrCat("[", target.host, "]:", target.port)
          : absl::StrCat(target.host, ":", target.port);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout));
}

absl::Status WaitForConnected(grpc::Channel& channel, absl::Duration timeout) {
  if (channel.WaitForConnected(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("cannot connect within ", absl::FormatDuration(timeout)));
}

tfs::PredictRequest MakePredictRequest(const ModelRef& model, const NamedTensors& inputs) {
  tfs::PredictRequest req;
  SetModelSpec(model, req.mutable_model_spec());
  for (const auto& [alias, t] : inputs) (*req.mutable_inputs())[alias] = t;
  return req;
}

absl::StatusOr<inference::ModelInferRequest> MakeInferRequest(const ModelRef& model, const NamedTensors& inputs) {
  inference::ModelInferRequest req;
  req.set_model_name(model.name);
  if (model.version) req.set_model_version(absl::StrCat(*model.version));
  if (!model.signature.empty()) (*req.mutable_parameters())["signature_name"].set_string_param(model.signature);
  for (const auto& [alias, t] : inputs) {
    auto in = ToKServeInput(alias, t);
    if (!in.ok()) return in.status();
    *req.add_inputs() = *std::move(in);
  }
  return req;
}

class GrpcPreparedPredict : public PreparedCall {
 public:
  GrpcPreparedPredict(const Target& target, tfs::PredictRequest request)
      : channel_(MakeChannel(target, true)), stub_(tfs::PredictionService::NewStub(channel_)), timeout_(target.timeout),
        request_(std::move(request)) {}
  absl::Status Connect() override { return WaitForConnected(*channel_, timeout_); }
  absl::Status Send() override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, timeout_);
    tfs::PredictResponse res;
    return FromGrpc(stub_->Predict(&ctx, request_, &res));
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<tfs::PredictionService::Stub> stub_;
  absl::Duration timeout_;
  tfs::PredictRequest request_;
};

class GrpcPreparedInfer : public PreparedCall {
 public:
  GrpcPreparedInfer(const Target& target, inference::ModelInferRequest request)
      : channel_(MakeChannel(target, true)), stub_(inference::GRPCInferenceService::NewStub(channel_)), timeout_(target.timeout),
        request_(std::move(request)) {}
  absl::Status Connect() override { return WaitForConnected(*channel_, timeout_); }
  absl::Status Send() override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, timeout_);
    inference::ModelInferResponse res;
    return FromGrpc(stub_->ModelInfer(&ctx, request_, &res));
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  absl::Duration timeout_;
  inference::ModelInferRequest request_;
};

class GrpcClient : public ServingClient {
 public:
  explicit GrpcClient(const Target& target)
      : target_(target), channel_(MakeChannel(target, false)), predict_(tfs::PredictionService::NewStub(channel_)),
        model_(tfs::ModelService::NewStub(channel_)), kserve_(inference::GRPCInferenceService::NewStub(channel_)) {}

  absl::StatusOr<ModelMetadata> Metadata(const ModelRef& model) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    if (target_.api == Api::kKServe) {
      inference::ModelMetadataRequest req;
      req.set_name(model.name);
      if (model.version) req.set_version(absl::StrCat(*model.version));
      inference::ModelMetadataResponse res;
      absl::Status s = FromGrpc(kserve_->ModelMetadata(&ctx, req, &res));
      if (!s.ok()) return s;
      return MetadataFromKServe(res, model.signature);
    }
    tfs::GetModelMetadataRequest req;
    SetModelSpec(model, req.mutable_model_spec());
    req.add_metadata_field("signature_def");
    tfs::GetModelMetadataResponse res;
    absl::Status s = FromGrpc(predict_->GetModelMetadata(&ctx, req, &res));
    if (!s.ok()) return s;
    tfs::SignatureDefMap signatures;
    auto it = res.metadata().find("signature_def");
    if (it == res.metadata().end() || !it->second.UnpackTo(&signatures)) {
      return absl::InternalError("the metadata answer holds no SignatureDefMap");
    }
    return MetadataFromTfs(res.model_spec(), signatures);
  }

  absl::StatusOr<ModelStatus> Status(const ModelRef& model) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    if (target_.api == Api::kKServe) {
      inference::ModelReadyRequest req;
      req.set_name(model.name);
      if (model.version) req.set_version(absl::StrCat(*model.version));
      inference::ModelReadyResponse res;
      absl::Status s = FromGrpc(kserve_->ModelReady(&ctx, req, &res));
      if (!s.ok()) return s;
      ModelStatus st;
      st.available = res.ready();
      st.versions.push_back({model.version.value_or(0), res.ready() ? "READY" : "NOT_READY", ""});
      st.json = absl::StrCat("{\"name\":\"", model.name, "\",\"ready\":", res.ready() ? "true" : "false", "}");
      return st;
    }
    tfs::GetModelStatusRequest req;
    SetModelSpec(model, req.mutable_model_spec());
    req.mutable_model_spec()->clear_signature_name();
    tfs::GetModelStatusResponse res;
    absl::Status s = FromGrpc(model_->GetModelStatus(&ctx, req, &res));
    if (!s.ok()) return s;
    return StatusFromTfs(res);
  }

  absl::StatusOr<PredictResult> Predict(const ModelRef& model, const NamedTensors& inputs) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    PredictResult result;
    result.model = model.name;
    if (target_.api == Api::kKServe) {
      auto req = MakeInferRequest(model, inputs);
      if (!req.ok()) return req.status();
      inference::ModelInferResponse res;
      absl::Status s = FromGrpc(kserve_->ModelInfer(&ctx, *req, &res));
      if (!s.ok()) return s;
      result.model = res.model_name();
      (void)absl::SimpleAtoi(res.model_version(), &result.version);
      const bool raw = !res.raw_output_contents().empty();
      for (int i = 0; i < res.outputs_size(); ++i) {
        auto t = FromKServeOutput(res.outputs(i), raw && i < res.raw_output_contents_size()
                                                      ? &res.raw_output_contents(i) : nullptr);
        if (!t.ok()) return t.status();
        result.outputs.emplace_back(res.outputs(i).name(), *std::move(t));
      }
      std::sort(result.outputs.begin(), result.outputs.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      return result;
    }
    tfs::PredictResponse res;
    absl::Status s = FromGrpc(predict_->Predict(&ctx, MakePredictRequest(model, inputs), &res));
    if (!s.ok()) return s;
    if (res.model_spec().has_version()) result.version = res.model_spec().version().value();
    std::map<std::string, tensorflow::TensorProto> sorted(res.outputs().begin(), res.outputs().end());
    for (auto& [k, v] : sorted) result.outputs.emplace_back(k, std::move(v));
    return result;
  }

  absl::StatusOr<tfs::ClassificationResult> Classify(const ModelRef& model, const tfs::Input& input) override {
    if (target_.api == Api::kKServe) return absl::UnimplementedError("KServe v2 has no classify call");
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    tfs::ClassificationRequest req;
    SetModelSpec(model, req.mutable_model_spec());
    *req.mutable_input() = input;
    tfs::ClassificationResponse res;
    absl::Status s = FromGrpc(predict_->Classify(&ctx, req, &res));
    if (!s.ok()) return s;
    return res.result();
  }

  absl::StatusOr<tfs::RegressionResult> Regress(const ModelRef& model, const tfs::Input& input) override {
    if (target_.api == Api::kKServe) return absl::UnimplementedError("KServe v2 has no regress call");
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    tfs::RegressionRequest req;
    SetModelSpec(model, req.mutable_model_spec());
    *req.mutable_input() = input;
    tfs::RegressionResponse res;
    absl::Status s = FromGrpc(predict_->Regress(&ctx, req, &res));
    if (!s.ok()) return s;
    return res.result();
  }

  absl::Status Reload(const tfs::ModelServerConfig& config) override {
    if (target_.api == Api::kKServe) return absl::UnimplementedError("KServe v2 has no config reload call");
    grpc::ClientContext ctx;
    SetDeadline(&ctx, target_.timeout);
    tfs::ReloadConfigRequest req;
    *req.mutable_config() = config;
    tfs::ReloadConfigResponse res;
    absl::Status s = FromGrpc(model_->HandleReloadConfigRequest(&ctx, req, &res));
    if (!s.ok()) return s;
    if (res.status().error_code() != tensorflow::error::OK) {
      return absl::Status(static_cast<absl::StatusCode>(res.status().error_code()), res.status().error_message());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<PreparedCall>> PreparePredict(const ModelRef& model,
                                                               const NamedTensors& inputs) override {
    if (target_.api == Api::kKServe) {
      auto req = MakeInferRequest(model, inputs);
      if (!req.ok()) return req.status();
      return std::make_unique<GrpcPreparedInfer>(target_, *std::move(req));
    }
    return std::make_unique<GrpcPreparedPredict>(target_, MakePredictRequest(model, inputs));
  }

 private:
  Target target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<tfs::PredictionService::Stub> predict_;
  std::unique_ptr<tfs::ModelService::Stub> model_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> kserve_;
};

}  // namespace

std::unique_ptr<ServingClient> MakeGrpcClient(const Target& target) { return std::make_unique<GrpcClient>(target); }

}  // namespace savant::clients
