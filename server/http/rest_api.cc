#include "server/http/rest_api.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "engine/base/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "loader/saved_model.h"
#include "server/grpc/kserve_service.h"
#include "server/http/json_tensor.h"
#include "server/metrics.h"
#include "server/status_mapping.h"

namespace savant::server {

namespace tfs = tensorflow::serving;
using engine::DataType;
using engine::Tensor;

// What a request was about, for the metrics.
struct RestApi::Route {
  std::string model;
  int64_t version = 0;
  std::string signature;
  const char* api = nullptr;
};

namespace {

constexpr char kJson[] = "application/json";
constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4";
constexpr char kHeaderLengthHeader[] = "Inference-Header-Content-Length";

// Consumes `prefix` from the front of `s`, ignoring ASCII case (TensorFlow Serving's routes are
// case-insensitive).
bool ConsumeCase(absl::string_view* s, absl::string_view prefix) {
  if (s->size() < prefix.size() || !absl::EqualsIgnoreCase(s->substr(0, prefix.size()), prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// The next path segment, up to one of `stops`.
absl::string_view TakeSegment(absl::string_view* s, absl::string_view stops) {
  const size_t end = s->find_first_of(stops);
  absl::string_view seg = s->substr(0, end);
  s->remove_prefix(seg.size());
  return seg;
}

absl::Status MalformedRequest(const HttpRequest& request) {
  return absl::InvalidArgumentError(absl::StrCat("Malformed request: ", request.method, " ", request.target));
}

absl::StatusOr<int64_t> ParseVersion(absl::string_view text) {
  int64_t v = 0;
  if (text.empty() || !absl::c_all_of(text, [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("Failed to convert version: ", text, " to numeric."));
  }
  return v;
}

absl::StatusOr<std::string> ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("Failed to convert proto to json. Error: ", status.ToString()));
  }
  return out;
}

void SetSpec(const ModelSelector& selector, tfs::ModelSpec* spec) {
  spec->set_name(selector.name);
  if (selector.version) spec->mutable_version()->set_value(*selector.version);
  if (selector.label) spec->set_version_label(*selector.label);
}

// ---- KServe v2 JSON ----

std::string KServeTensorMetadataJson(const inference::ModelMetadataResponse::TensorMetadata& t) {
  std::string out = "{\"name\":";
  AppendJsonString(t.name(), &out);
  absl::StrAppend(&out, ",\"datatype\":\"", t.datatype(), "\",\"shape\":[");
  for (int i = 0; i < t.shape_size(); ++i) absl::StrAppend(&out, i ? "," : "", t.shape(i));
  out.append("]}");
  return out;
}

}  // namespace

void RestApi::Handle(const HttpRequest& request, HttpResponse& response) const {
  const absl::Time start = absl::Now();
  absl::string_view path = request.target;
  if (size_t q = path.find('?'); q != absl::string_view::npos) path = path.substr(0, q);
  if (options_.enable_cors) {
    response.headers.emplace_back("Access-Control-Allow-Origin", "*");
    if (request.method == "OPTIONS") {
      response.status = 204;
      response.headers.emplace_back("Access-Control-Allow-Methods", "POST, GET, OPTIONS");
      response.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Inference-Header-Content-Length");
      return;
    }
  }
  if (!options_.prometheus_path.empty() && path == options_.prometheus_path && request.method == "GET") {
    response.content_type = kPrometheusContentType;
    response.body = Metrics::Global().RenderPrometheusText();
    return;
  }
  Route route;
  absl::Status status;
  absl::string_view rest = path;
  if (ConsumeCase(&rest, "/v1/")) {
    status = HandleV1(request, path, response, route);
  } else if (rest == "/v2" || rest == "/v2/" || ConsumeCase(&rest, "/v2/")) {
    status = HandleV2(request, path, response, route);
  } else {
    status = absl::NotFoundError(absl::StrCat("no such endpoint: ", request.method, " ", path));
  }
  if (!status.ok()) {
    response.status = HttpStatusCode(status.code());
    response.content_type = kJson;
    response.body = HttpErrorBody(status);
    response.headers.erase(std::remove_if(response.headers.begin(), response.headers.end(),
                                          [](const auto& h) { return h.first == kHeaderLengthHeader; }),
                           response.headers.end());
  }
  if (route.api != nullptr && !route.model.empty()) {
    Metrics::Global().RecordRequest(route.model, route.version, route.signature, route.api, "rest", status.code(),
                                    absl::Now() - start);
  }
}

absl::Status RestApi::HandleV1(const HttpRequest& request, absl::string_view path, HttpResponse& response,
                               Route& route) const {
  absl::string_view rest = path;
  if (!ConsumeCase(&rest, "/v1/models")) return MalformedRequest(request);
  if (rest.empty() || rest == "/") {
    if (request.method == "GET") return absl::InvalidArgumentError("Missing model name in request.");
    return MalformedRequest(request);
  }
  if (!absl::ConsumePrefix(&rest, "/")) return MalformedRequest(request);
  ModelSelector selector;
  selector.name = std::string(TakeSegment(&rest, "/:"));
  if (selector.name.empty()) return MalformedRequest(request);
  route.model = selector.name;
  if (ConsumeCase(&rest, "/versions/")) {
    ASSIGN_OR_RETURN(selector.version, ParseVersion(TakeSegment(&rest, "/:")));
    route.version = *selector.version;
  } else if (ConsumeCase(&rest, "/labels/")) {
    absl::string_view label = TakeSegment(&rest, "/:");
    if (label.empty()) return MalformedRequest(request);
    selector.label = std::string(label);
  }

  if (request.method == "POST" && absl::ConsumePrefix(&rest, ":")) {
    const std::string method = absl::AsciiStrToLower(rest);
    if (method == "predict") {
      route.api = "predict";
      ASSIGN_OR_RETURN(VersionHandle version, path_->Find(selector));
      route.version = version->version;
      std::string key;
      if (absl::StrContains(request.body, "signature_name")) {
        ASSIGN_OR_RETURN(key, JsonSignatureName(request.body));
      }
      if (key.empty()) key = loader::kDefaultSignature;
      route.signature = key;
      auto sig = version->model->FindSignature(key);
      if (!sig.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("model \"", version->name, "\" version ", version->version,
                                                       ": Serving signature name: \"", key,
                                                       "\" not found in signature def"));
      }
      ASSIGN_OR_RETURN(JsonPredictRequest parsed,
                       ParseJsonPredictRequest(request.body, (*sig)->inputs, options_.max_tensor_elements));
      ASSIGN_OR_RETURN(loader::NamedTensors outputs, RunSignature(*version, key, parsed.inputs, {}));
      ASSIGN_OR_RETURN(response.body, WriteJsonPredictResponse(outputs, parsed.format));
      return absl::OkStatus();
    }
    if (method == "classify" || method == "regress") {
      route.api = method == "classify" ? "classify" : "regress";
      ASSIGN_OR_RETURN(VersionHandle version, path_->Find(selector));
      route.version = version->version;
      std::string key;
      tfs::Input input;
      RETURN_IF_ERROR(ParseJsonExamplesRequest(request.body, &key, &input));
      route.signature = key.empty() ? loader::kDefaultSignature : key;
      if (method == "classify") {
        tfs::ClassificationRequest req;
        SetSpec(selector, req.mutable_model_spec());
        req.mutable_model_spec()->set_signature_name(key);
        *req.mutable_input() = std::move(input);
        tfs::ClassificationResponse res;
        RETURN_IF_ERROR(RunClassify(*version, req, &res, path_->options()));
        response.body = WriteJsonClassificationResult(res.result());
      } else {
        tfs::RegressionRequest req;
        SetSpec(selector, req.mutable_model_spec());
        req.mutable_model_spec()->set_signature_name(key);
        *req.mutable_input() = std::move(input);
        tfs::RegressionResponse res;
        RETURN_IF_ERROR(RunRegress(*version, req, &res, path_->options()));
        response.body = WriteJsonRegressionResult(res.result());
      }
      return absl::OkStatus();
    }
    return MalformedRequest(request);
  }
  if (request.method != "GET") return MalformedRequest(request);

  if (ConsumeCase(&rest, "/metadata")) {
    if (!rest.empty()) return MalformedRequest(request);
    route.api = "get_model_metadata";
    tfs::GetModelMetadataRequest req;
    SetSpec(selector, req.mutable_model_spec());
    req.add_metadata_field(kSignatureDefMetadataField);
    tfs::GetModelMetadataResponse res;
    RETURN_IF_ERROR(path_->GetModelMetadata(req, &res));
    route.version = res.model_spec().version().value();
    tfs::SignatureDefMap signatures;
    if (auto it = res.metadata().find(kSignatureDefMetadataField); it != res.metadata().end()) {
      if (!it->second.UnpackTo(&signatures)) return absl::InternalError("cannot unpack the SignatureDefMap");
    }
    ASSIGN_OR_RETURN(std::string spec_json, ProtoToJson(res.model_spec()));
    ASSIGN_OR_RETURN(std::string signatures_json, ProtoToJson(signatures));
    response.body = absl::StrCat("{\"model_spec\":", spec_json, ",\"metadata\":{\"signature_def\":", signatures_json,
                                 "}}");
    return absl::OkStatus();
  }
  if (!rest.empty()) return MalformedRequest(request);
  route.api = "get_model_status";
  tfs::GetModelStatusRequest req;
  req.mutable_model_spec()->set_name(selector.name);
  if (selector.version) {
    req.mutable_model_spec()->mutable_version()->set_value(*selector.version);
  } else if (selector.label) {
    // The status of the version the label points at.
    ASSIGN_OR_RETURN(VersionHandle version, path_->Find(selector));
    req.mutable_model_spec()->mutable_version()->set_value(version->version);
  }
  tfs::GetModelStatusResponse res;
  RETURN_IF_ERROR(path_->GetModelStatus(req, &res));
  ASSIGN_OR_RETURN(response.body, ProtoToJson(res));
  return absl::OkStatus();
}

absl::Status RestApi::HandleV2(const HttpRequest& request, absl::string_view path, HttpResponse& response,
                               Route& route) const {
  absl::string_view rest = path;
  ConsumeCase(&rest, "/v2");
  const bool get = request.method == "GET";
  if (rest.empty() || rest == "/") {
    if (!get) return MalformedRequest(request);
    inference::ServerMetadataResponse md;
    KServeServerMetadata(&md);
    response.body = "{\"name\":";
    AppendJsonString(md.name(), &response.body);
    response.body.append(",\"version\":");
    AppendJsonString(md.version(), &response.body);
    response.body.append(",\"extensions\":[\"binary_tensor_data\"]}");
    return absl::OkStatus();
  }
  if (absl::EqualsIgnoreCase(rest, "/health/live")) {
    if (!get) return MalformedRequest(request);
    response.body = "{\"live\":true}";
    return absl::OkStatus();
  }
  if (absl::EqualsIgnoreCase(rest, "/health/ready")) {
    if (!get) return MalformedRequest(request);
    const bool ready = options_.ready ? options_.ready() : true;
    // KServe v2: 200 means ready, a 4xx status means not ready.
    response.status = ready ? 200 : 400;
    response.body = ready ? "{\"ready\":true}" : "{\"ready\":false}";
    return absl::OkStatus();
  }
  if (!ConsumeCase(&rest, "/models/")) return absl::NotFoundError(absl::StrCat("no such endpoint: ", path));
  const std::string name(TakeSegment(&rest, "/"));
  if (name.empty()) return MalformedRequest(request);
  route.model = name;
  std::string version_text;
  if (ConsumeCase(&rest, "/versions/")) {
    version_text = std::string(TakeSegment(&rest, "/"));
    ASSIGN_OR_RETURN(route.version, ParseVersion(version_text));
  }
  if (rest.empty() && get) {
    route.api = "kserve_model_metadata";
    inference::ModelMetadataRequest req;
    req.set_name(name);
    req.set_version(version_text);
    inference::ModelMetadataResponse md;
    RETURN_IF_ERROR(KServeModelMetadata(*path_, req, &md));
    response.body = "{\"name\":";
    AppendJsonString(md.name(), &response.body);
    response.body.append(",\"versions\":[");
    for (int i = 0; i < md.versions_size(); ++i) {
      if (i) response.body.push_back(',');
      AppendJsonString(md.versions(i), &response.body);
    }
    absl::StrAppend(&response.body, "],\"platform\":\"", md.platform(), "\",\"inputs\":[");
    for (int i = 0; i < md.inputs_size(); ++i) {
      absl::StrAppend(&response.body, i ? "," : "", KServeTensorMetadataJson(md.inputs(i)));
    }
    response.body.append("],\"outputs\":[");
    for (int i = 0; i < md.outputs_size(); ++i) {
      absl::StrAppend(&response.body, i ? "," : "", KServeTensorMetadataJson(md.outputs(i)));
    }
    response.body.append("]}");
    return absl::OkStatus();
  }
  if (absl::EqualsIgnoreCase(rest, "/ready") && get) {
    route.api = "kserve_model_ready";
    inference::ModelReadyRequest req;
    req.set_name(name);
    req.set_version(version_text);
    inference::ModelReadyResponse res;
    RETURN_IF_ERROR(KServeModelReady(*path_, req, &res));
    response.status = res.ready() ? 200 : 400;
    response.body = res.ready() ? "{\"ready\":true}" : "{\"ready\":false}";
    return absl::OkStatus();
  }
  if (!absl::EqualsIgnoreCase(rest, "/infer") || request.method != "POST") return MalformedRequest(request);

  // POST /v2/models/NAME[/versions/V]/infer, JSON tensors and Triton's binary tensor extension:
  // the first Inference-Header-Content-Length bytes are the JSON, binary tensors follow in input
  // order, each as long as its "binary_data_size" parameter says.
  route.api = "kserve_model_infer";
  absl::string_view json = request.body;
  absl::string_view binary;
  if (absl::string_view h = request.header(kHeaderLengthHeader); !h.empty()) {
    size_t n = 0;
    if (!absl::SimpleAtoi(h, &n) || n > request.body.size()) {
      return absl::InvalidArgumentError(absl::StrCat(kHeaderLengthHeader, " \"", h, "\" is not a length within the ",
                                                     request.body.size(), "-byte body"));
    }
    json = request.body.substr(0, n);
    binary = request.body.substr(n);
  }
  ASSIGN_OR_RETURN(KServeJsonRequest req, ParseKServeInferJson(json));
  const std::string& signature = req.signature_name;
  route.signature = signature.empty() ? loader::kDefaultSignature : signature;
  loader::NamedTensors inputs;
  size_t binary_offset = 0;
  for (const KServeJsonInput& in : req.inputs) {
    if (in.name.empty() || in.datatype.empty()) {
      return absl::InvalidArgumentError("every input needs a \"name\", a \"datatype\" and a \"shape\"");
    }
    std::optional<Tensor> t;
    if (in.has_binary_size) {
      if (in.binary_size > binary.size() - binary_offset) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", in.name, "\": binary_data_size exceeds the ",
                                                       binary.size() - binary_offset, " binary bytes left"));
      }
      // Check the declared shape against the bytes sent before anything is allocated for it.
      auto dtype = DataTypeFromKServe(in.datatype);
      if (!dtype.ok()) return Annotate(dtype.status(), absl::StrCat("input \"", in.name, "\""));
      ASSIGN_OR_RETURN(int64_t elements, ElementCount(in.shape, in.name));
      const uint64_t element_size = engine::DataTypeSize(*dtype);
      const bool fits = *dtype == DataType::kString
                            ? static_cast<uint64_t>(elements) <= in.binary_size / 4
                            : element_size > 0 && static_cast<uint64_t>(elements) == in.binary_size / element_size &&
                                  in.binary_size % element_size == 0;
      if (!fits) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", in.name, "\": binary_data_size ", in.binary_size,
                                                       " does not hold ", in.datatype, " [",
                                                       absl::StrJoin(in.shape, ","), "]"));
      }
      inference::ModelInferRequest::InferInputTensor tensor;
      tensor.set_name(in.name);
      tensor.set_datatype(in.datatype);
      for (int64_t d : in.shape) tensor.add_shape(d);
      const std::string raw(binary.substr(binary_offset, in.binary_size));
      binary_offset += in.binary_size;
      ASSIGN_OR_RETURN(t, TensorFromKServe(tensor, &raw));
    } else {
      if (in.data.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", in.name, "\" has neither \"data\" nor binary_data_size"));
      }
      auto dtype = DataTypeFromKServe(in.datatype);
      if (!dtype.ok()) return Annotate(dtype.status(), absl::StrCat("input \"", in.name, "\""));
      ASSIGN_OR_RETURN(t, KServeJsonTensor(in, *dtype, options_.max_tensor_elements));
    }
    inputs.emplace_back(in.name, *std::move(t));
  }
  if (binary_offset != binary.size()) {
    return absl::InvalidArgumentError(absl::StrCat(binary.size() - binary_offset,
                                                   " binary bytes after the JSON header are not claimed by any input"));
  }
  std::vector<std::string> filter;
  std::vector<bool> filter_binary;
  for (const KServeJsonOutput& o : req.outputs) {
    if (o.name.empty()) return absl::InvalidArgumentError("every requested output needs a \"name\"");
    filter.push_back(o.name);
    filter_binary.push_back(o.binary < 0 ? req.binary_data_output : o.binary == 1);
  }
  const bool binary_output = req.binary_data_output;
  std::optional<int64_t> version;
  if (!version_text.empty()) version = route.version;
  ASSIGN_OR_RETURN(VersionHandle handle, path_->Find({name, version, std::nullopt}));
  route.version = handle->version;
  ASSIGN_OR_RETURN(loader::NamedTensors outputs, RunSignature(*handle, signature, inputs, filter));

  std::string& out = response.body;
  std::string blobs;
  out = "{\"model_name\":";
  AppendJsonString(handle->name, &out);
  absl::StrAppend(&out, ",\"model_version\":\"", handle->version, "\"");
  if (req.has_id) {
    out.append(",\"id\":");
    AppendJsonString(req.id, &out);
  }
  out.append(",\"outputs\":[");
  bool first = true;
  for (const auto& [alias, t] : outputs) {
    bool as_binary = binary_output;
    for (size_t i = 0; i < filter.size(); ++i) {
      if (filter[i] == alias) as_binary = filter_binary[i];
    }
    const absl::string_view datatype = KServeDatatype(t.dtype());
    if (datatype.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("output \"", alias, "\": ", engine::DataTypeName(t.dtype()),
                                                     " has no KServe datatype"));
    }
    as_binary |= t.dtype() == DataType::kHalf || t.dtype() == DataType::kBFloat16;
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"name\":");
    AppendJsonString(alias, &out);
    absl::StrAppend(&out, ",\"datatype\":\"", datatype, "\",\"shape\":[");
    for (int i = 0; i < t.rank(); ++i) absl::StrAppend(&out, i ? "," : "", t.dim(i));
    out.append("]");
    if (as_binary) {
      inference::ModelInferResponse::InferOutputTensor unused;
      std::string raw;
      TensorToKServe(t, &unused, &raw);
      absl::StrAppend(&out, ",\"parameters\":{\"binary_data_size\":", raw.size(), "}}");
      blobs.append(raw);
    } else {
      out.append(",\"data\":");
      RETURN_IF_ERROR(AppendJsonTensor(t, false, /*flat=*/true, &out));
      out.push_back('}');
    }
  }
  out.append("]}");
  if (!blobs.empty()) {
    response.headers.emplace_back(kHeaderLengthHeader, absl::StrCat(out.size()));
    response.content_type = "application/octet-stream";
    out.append(blobs);
  }
  return absl::OkStatus();
}

}  // namespace savant::server
