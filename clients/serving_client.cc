#include "clients/serving_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/client_impl.h"
#include "clients/tensor_codec.h"
#include "google/protobuf/util/json_util.h"
#include "rapidjson/document.h"

namespace savant::clients {

absl::StatusOr<std::unique_ptr<ServingClient>> ServingClient::Create(const Target& target) {
  if (target.port <= 0 || target.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", target.port, " is not in 1..65535"));
  }
  if (target.host.empty()) return absl::InvalidArgumentError("empty host name");
  if (target.protocol == Protocol::kGrpc) return MakeGrpcClient(target);
  return MakeRestClient(target);
}

std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

void SetModelSpec(const ModelRef& model, tensorflow::serving::ModelSpec* spec) {
  spec->set_name(model.name);
  if (model.version) spec->mutable_version()->set_value(*model.version);
  if (!model.label.empty()) spec->set_version_label(model.label);
  if (!model.signature.empty()) spec->set_signature_name(model.signature);
}

namespace {

std::vector<TensorInfo> TensorInfos(const google::protobuf::Map<std::string, tensorflow::TensorInfo>& map) {
  std::vector<TensorInfo> out;
  for (const auto& [alias, info] : map) {
    TensorInfo t;
    t.name = alias;
    t.dtype = info.dtype();
    t.unknown_rank = info.tensor_shape().unknown_rank();
    for (const auto& d : info.tensor_shape().dim()) t.shape.push_back(d.size());
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace

ModelMetadata MetadataFromTfs(const tensorflow::serving::ModelSpec& spec,
                              const tensorflow::serving::SignatureDefMap& signatures) {
  ModelMetadata md;
  md.name = spec.name();
  if (spec.has_version()) md.versions.push_back(absl::StrCat(spec.version().value()));
  for (const auto& [key, def] : signatures.signature_def()) {
    SignatureInfo s;
    s.key = key;
    s.method = def.method_name();
    s.inputs = TensorInfos(def.inputs());
    s.outputs = TensorInfos(def.outputs());
    md.signatures.push_back(std::move(s));
  }
  std::sort(md.signatures.begin(), md.signatures.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  md.json = absl::StrCat("{\"model_spec\":", ProtoJson(spec), ",\"metadata\":{\"signature_def\":",
                         ProtoJson(signatures), "}}");
  return md;
}

ModelMetadata MetadataFromKServe(const inference::ModelMetadataResponse& response, const std::string& signature) {
  ModelMetadata md;
  md.name = response.name();
  md.versions.assign(response.versions().begin(), response.versions().end());
  SignatureInfo sig;
  sig.key = signature.empty() ? "serving_default" : signature;
  auto convert = [](const auto& list, std::vector<TensorInfo>* out) {
    for (const auto& m : list) {
      out->push_back({m.name(), FromKServeDatatype(m.datatype()), {m.shape().begin(), m.shape().end()}, false});
    }
  };
  convert(response.inputs(), &sig.inputs);
  convert(response.outputs(), &sig.outputs);
  md.signatures.push_back(std::move(sig));
  md.json = ProtoJson(response);
  return md;
}

ModelStatus StatusFromTfs(const tensorflow::serving::GetModelStatusResponse& response) {
  ModelStatus st;
  for (const auto& v : response.model_version_status()) {
    VersionStatus vs;
    vs.version = v.version();
    vs.state = tensorflow::serving::ModelVersionStatus::State_Name(v.state());
    if (v.status().error_code() != tensorflow::error::OK) {
      vs.error = absl::StrCat(tensorflow::error::Code_Name(v.status().error_code()), ": ", v.status().error_message());
    }
    st.available = st.available || v.state() == tensorflow::serving::ModelVersionStatus::AVAILABLE;
    st.versions.push_back(std::move(vs));
  }
  st.json = ProtoJson(response);
  return st;
}

absl::StatusOr<SignatureInfo> FindSignature(const ModelMetadata& metadata, const std::string& key) {
  const std::string want = key.empty() ? "serving_default" : key;
  std::vector<std::string> keys;
  for (const auto& s : metadata.signatures) {
    if (s.key == want) return s;
    keys.push_back(absl::StrCat("\"", s.key, "\""));
  }
  if (key.empty() && metadata.signatures.size() == 1) return metadata.signatures[0];
  return absl::FailedPreconditionError(absl::StrCat("model \"", metadata.name, "\" has no signature \"", want,
                                                    "\"; it has ", absl::StrJoin(keys, ", ")));
}

absl::StatusOr<NamedTensors> BuildInputs(const std::vector<InputValue>& values, const SignatureInfo& signature) {
  NamedTensors out;
  for (const InputValue& v : values) {
    const TensorInfo* info = nullptr;
    std::vector<std::string> aliases;
    for (const auto& in : signature.inputs) {
      if (in.name == v.alias) info = &in;
      aliases.push_back(absl::StrCat("\"", in.name, "\""));
    }
    if (info == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("signature \"", signature.key, "\" has no input \"", v.alias,
                                                     "\"; its inputs are ", absl::StrJoin(aliases, ", ")));
    }
    if (v.tensor) {
      if (v.tensor->dtype() != info->dtype && info->dtype != tensorflow::DT_INVALID) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", v.alias, "\": expected ",
                                                       DataTypeName(info->dtype), ", the file holds ",
                                                       DataTypeName(v.tensor->dtype())));
      }
      out.emplace_back(v.alias, *v.tensor);
      continue;
    }
    auto t = LiteralToTensor(v.literal, info->dtype);
    if (!t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", v.alias, "\" (", DataTypeName(info->dtype),
                                                     "): ", t.status().message()));
    }
    out.emplace_back(v.alias, *std::move(t));
  }
  return out;
}

absl::StatusOr<NamedTensors> GenerateInputs(const SignatureInfo& signature, int64_t batch) {
  NamedTensors out;
  for (const auto& in : signature.inputs) {
    tensorflow::TensorProto t;
    t.set_dtype(in.dtype);
    int64_t n = 1;
    std::vector<int64_t> dims = in.unknown_rank ? std::vector<int64_t>{-1} : in.shape;
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t d = dims[i] >= 0 ? dims[i] : (i == 0 ? batch : 1);
      t.mutable_tensor_shape()->add_dim()->set_size(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) {
      const int k = static_cast<int>(i % 10) + 1;
      switch (in.dtype) {
        case tensorflow::DT_FLOAT: t.add_float_val(0.1f * k); break;
        case tensorflow::DT_DOUBLE: t.add_double_val(0.1 * k); break;
        case tensorflow::DT_INT8: case tensorflow::DT_INT16: case tensorflow::DT_INT32: case tensorflow::DT_UINT8:
        case tensorflow::DT_UINT16:
          t.add_int_val(k);
          break;
        case tensorflow::DT_INT64: t.add_int64_val(k); break;
        case tensorflow::DT_UINT32: t.add_uint32_val(k); break;
        case tensorflow::DT_UINT64: t.add_uint64_val(k); break;
        case tensorflow::DT_BOOL: t.add_bool_val(k % 2 == 0); break;
        case tensorflow::DT_STRING: t.add_string_val("a"); break;
        default:
          return absl::InvalidArgumentError(absl::StrCat("input \"", in.name, "\": cannot generate ",
                                                         DataTypeName(in.dtype), " values; pass --inputs"));
      }
    }
    out.emplace_back(in.name, std::move(t));
  }
  return out;
}

absl::Status StatusFromHttp(int http_status, const std::string& body) {
  absl::StatusCode code;
  switch (http_status) {
    case 400: code = absl::StatusCode::kInvalidArgument; break;
    case 401: code = absl::StatusCode::kUnauthenticated; break;
    case 403: code = absl::StatusCode::kPermissionDenied; break;
    case 404: code = absl::StatusCode::kNotFound; break;
    case 409: code = absl::StatusCode::kAborted; break;
    case 429: code = absl::StatusCode::kResourceExhausted; break;
    case 499: code = absl::StatusCode::kCancelled; break;
    case 500: code = absl::StatusCode::kInternal; break;
    case 501: code = absl::StatusCode::kUnimplemented; break;
    case 503: code = absl::StatusCode::kUnavailable; break;
    case 504: code = absl::StatusCode::kDeadlineExceeded; break;
    default: code = absl::StatusCode::kUnknown; break;
  }
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  std::string message;
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") && doc["error"].IsString()) {
    message = doc["error"].GetString();
  } else {
    message = absl::StrCat("HTTP ", http_status, ": ", body.substr(0, 300));
  }
  return absl::Status(code, message);
}

std::string NextFlag(int argc, char** argv, int* i, std::string* name, std::string* value) {
  *name = std::string(argv[*i]).substr(2);
  value->clear();
  if (auto eq = name->find('='); eq != std::string::npos) {
    *value = name->substr(eq + 1);
    name->resize(eq);
  } else if (*i + 1 < argc) {
    *value = argv[++*i];
  } else {
    return absl::StrCat("flag --", *name, " needs a value");
  }
  return "";
}

}  // namespace savant::clients
