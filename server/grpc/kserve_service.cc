#include "server/grpc/kserve_service.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "loader/saved_model.h"
#include "server/server_config.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
using inference::InferTensorContents;

constexpr char kPlatform[] = "tensorflow_savedmodel";
constexpr char kSignatureParameter[] = "signature_name";

struct DatatypeName {
  DataType dtype;
  const char* name;
};
constexpr DatatypeName kDatatypes[] = {
    {DataType::kBool, "BOOL"},    {DataType::kUInt8, "UINT8"},   {DataType::kUInt16, "UINT16"},
    {DataType::kUInt32, "UINT32"}, {DataType::kUInt64, "UINT64"}, {DataType::kInt8, "INT8"},
    {DataType::kInt16, "INT16"},  {DataType::kInt32, "INT32"},   {DataType::kInt64, "INT64"},
    {DataType::kHalf, "FP16"},    {DataType::kFloat, "FP32"},    {DataType::kDouble, "FP64"},
    {DataType::kString, "BYTES"}, {DataType::kBFloat16, "BF16"},
};

// Copies a repeated typed field into the tensor, converting element by element.
template <typename T, typename Field>
absl::Status FillTyped(const Field& values, Tensor& t, const std::string& name, const char* field_name) {
  if (static_cast<int64_t>(values.size()) != t.num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": expected ", t.num_elements(),
                                                   " values in ", field_name, " for shape ", t.shape().DebugString(),
                                                   ", got ", values.size()));
  }
  auto out = t.flat<T>();
  for (int64_t i = 0; i < t.num_elements(); ++i) out[i] = static_cast<T>(values[static_cast<int>(i)]);
  return absl::OkStatus();
}

template <typename T, typename Field>
void AppendTyped(const Tensor& t, Field* out) {
  for (const T& v : t.flat<T>()) out->Add(v);
}

absl::StatusOr<std::vector<std::string>> SplitRawBytes(const std::string& raw, int64_t count, const std::string& name) {
  std::vector<std::string> elements;
  size_t pos = 0;
  while (pos < raw.size()) {
    if (raw.size() - pos < 4) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": truncated BYTES length prefix at byte ", pos));
    }
    uint32_t length = 0;
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(raw[pos + i]);
    pos += 4;
    if (raw.size() - pos < length) {
      return absl::InvalidArgumentError(
          absl::StrCat("input \"", name, "\": BYTES element ", elements.size(), " of ", length, " bytes is truncated"));
    }
    elements.emplace_back(raw.substr(pos, length));
    pos += length;
  }
  if (static_cast<int64_t>(elements.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": expected ", count,
                                                   " BYTES elements in raw_input_contents, got ", elements.size()));
  }
  return elements;
}

absl::StatusOr<std::optional<int64_t>> ParseVersion(const std::string& version) {
  if (version.empty()) return std::optional<int64_t>();
  int64_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(version), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("model_version \"", version, "\" is not an integer"));
  }
  return std::optional<int64_t>(v);
}

const loader::Signature* DefaultSignature(const loader::Model& model) {
  auto sig = model.signatures().find(loader::kDefaultSignature);
  if (sig != model.signatures().end()) return &sig->second;
  if (model.signatures().size() == 1) return &model.signatures().begin()->second;
  return nullptr;
}

void AddTensorMetadata(const loader::TensorBinding& b,
                       google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out) {
  auto* t = out->Add();
  t->set_name(b.alias);
  t->set_datatype(std::string(KServeDatatype(b.dtype)));
  if (!b.shape.unknown_rank()) {
    for (int64_t d : b.shape.dims()) t->add_shape(d);
  } else {
    t->add_shape(-1);
  }
}

}  // namespace

absl::string_view KServeDatatype(DataType dtype) {
  for (const auto& d : kDatatypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "";
}

absl::StatusOr<DataType> DataTypeFromKServe(absl::string_view datatype) {
  std::string known;
  for (const auto& d : kDatatypes) {
    if (datatype == d.name) return d.dtype;
    absl::StrAppend(&known, known.empty() ? "" : ", ", d.name);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown datatype \"", datatype, "\"; expected one of ", known));
}

absl::StatusOr<Tensor> TensorFromKServe(const inference::ModelInferRequest::InferInputTensor& input,
                                        const std::string* raw) {
  const std::string& name = input.name();
  auto dtype = DataTypeFromKServe(input.datatype());
  if (!dtype.ok()) return Annotate(dtype.status(), absl::StrCat("input \"", name, "\""));
  Shape shape;
  int64_t n = 1;
  for (int64_t d : input.shape()) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": negative dimension ", d, " in shape"));
    }
    if (n != 0 && d != 0 && __builtin_mul_overflow(n, d, &n)) n = std::numeric_limits<int64_t>::max();
    if (d == 0) n = 0;
    shape.AddDim(d);
  }
  // The shape is the client's claim: check it against the data actually sent before allocating, so
  // a request declaring [1e11, 1000] with a few values is an error, not an allocation failure.
  // Every element takes at least one value of a typed contents field, at least one byte of a raw
  // buffer, and four bytes (its length prefix) of a raw BYTES buffer.
  int64_t available = 0;
  if (raw != nullptr) {
    available = static_cast<int64_t>(raw->size()) / (*dtype == DataType::kString ? 4 : 1);
  } else {
    const InferTensorContents& c = input.contents();
    available = std::max<int64_t>({c.bool_contents_size(), c.int_contents_size(), c.int64_contents_size(),
                                   c.uint_contents_size(), c.uint64_contents_size(), c.fp32_contents_size(),
                                   c.fp64_contents_size(), c.bytes_contents_size()});
  }
  if (n > available) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": shape ", shape.DebugString(), " needs ",
                                                   n == std::numeric_limits<int64_t>::max() ? std::string("more than 2^63")
                                                                                             : absl::StrCat(n),
                                                   " elements but the request carries data for at most ",
                                                   available));
  }
  Tensor t(*dtype, shape);
  if (raw != nullptr) {
    if (*dtype == DataType::kString) {
      ASSIGN_OR_RETURN(std::vector<std::string> elements, SplitRawBytes(*raw, t.num_elements(), name));
      auto out = t.flat<std::string>();
      for (size_t i = 0; i < elements.size(); ++i) out[i] = std::move(elements[i]);
      return t;
    }
    if (raw->size() != t.byte_size()) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": expected ", t.byte_size(),
                                                     " bytes of raw_input_contents for ", input.datatype(), " ",
                                                     shape.DebugString(), ", got ", raw->size()));
    }
    if (!raw->empty()) std::memcpy(t.raw_data(), raw->data(), raw->size());
    return t;
  }
  const InferTensorContents& c = input.contents();
  switch (*dtype) {
    case DataType::kBool:
      RETURN_IF_ERROR(FillTyped<bool>(c.bool_contents(), t, name, "bool_contents"));
      break;
    case DataType::kInt8:
      RETURN_IF_ERROR(FillTyped<int8_t>(c.int_contents(), t, name, "int_contents"));
      break;
    case DataType::kInt16:
      RETURN_IF_ERROR(FillTyped<int16_t>(c.int_contents(), t, name, "int_contents"));
      break;
    case DataType::kInt32:
      RETURN_IF_ERROR(FillTyped<int32_t>(c.int_contents(), t, name, "int_contents"));
      break;
    case DataType::kInt64:
      RETURN_IF_ERROR(FillTyped<int64_t>(c.int64_contents(), t, name, "int64_contents"));
      break;
    case DataType::kUInt8:
      RETURN_IF_ERROR(FillTyped<uint8_t>(c.uint_contents(), t, name, "uint_contents"));
      break;
    case DataType::kUInt16:
      RETURN_IF_ERROR(FillTyped<uint16_t>(c.uint_contents(), t, name, "uint_contents"));
      break;
    case DataType::kUInt32:
      RETURN_IF_ERROR(FillTyped<uint32_t>(c.uint_contents(), t, name, "uint_contents"));
      break;
    case DataType::kUInt64:
      RETURN_IF_ERROR(FillTyped<uint64_t>(c.uint64_contents(), t, name, "uint64_contents"));
      break;
    case DataType::kFloat:
      RETURN_IF_ERROR(FillTyped<float>(c.fp32_contents(), t, name, "fp32_contents"));
      break;
    case DataType::kDouble:
      RETURN_IF_ERROR(FillTyped<double>(c.fp64_contents(), t, name, "fp64_contents"));
      break;
    case DataType::kString:
      RETURN_IF_ERROR(FillTyped<std::string>(c.bytes_contents(), t, name, "bytes_contents"));
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("input \"", name, "\": ", input.datatype(), " has no typed contents field; use raw_input_contents"));
  }
  return t;
}

void TensorToKServe(const Tensor& t, inference::ModelInferResponse::InferOutputTensor* output, std::string* raw) {
  output->set_datatype(std::string(KServeDatatype(t.dtype())));
  for (int64_t d : t.shape().dims()) output->add_shape(d);
  if (raw != nullptr) {
    raw->clear();
    if (t.dtype() == DataType::kString) {
      for (const std::string& s : t.flat<std::string>()) {
        const uint32_t n = static_cast<uint32_t>(s.size());
        for (int i = 0; i < 4; ++i) raw->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
        raw->append(s);
      }
    } else {
      raw->assign(static_cast<const char*>(t.raw_data()), t.byte_size());
    }
    return;
  }
  InferTensorContents* c = output->mutable_contents();
  switch (t.dtype()) {
    case DataType::kBool:
      AppendTyped<bool>(t, c->mutable_bool_contents());
      break;
    case DataType::kInt8:
      AppendTyped<int8_t>(t, c->mutable_int_contents());
      break;
    case DataType::kInt16:
      AppendTyped<int16_t>(t, c->mutable_int_contents());
      break;
    case DataType::kInt32:
      AppendTyped<int32_t>(t, c->mutable_int_contents());
      break;
    case DataType::kInt64:
      AppendTyped<int64_t>(t, c->mutable_int64_contents());
      break;
    case DataType::kUInt8:
      AppendTyped<uint8_t>(t, c->mutable_uint_contents());
      break;
    case DataType::kUInt16:
      AppendTyped<uint16_t>(t, c->mutable_uint_contents());
      break;
    case DataType::kUInt32:
      AppendTyped<uint32_t>(t, c->mutable_uint_contents());
      break;
    case DataType::kUInt64:
      AppendTyped<uint64_t>(t, c->mutable_uint64_contents());
      break;
    case DataType::kFloat:
      AppendTyped<float>(t, c->mutable_fp32_contents());
      break;
    case DataType::kDouble:
      AppendTyped<double>(t, c->mutable_fp64_contents());
      break;
    case DataType::kString:
      for (const std::string& s : t.flat<std::string>()) c->add_bytes_contents(s);
      break;
    default:
      break;
  }
}

absl::Status KServeModelReady(const PredictPath& path, const inference::ModelReadyRequest& request,
                              inference::ModelReadyResponse* response) {
  ASSIGN_OR_RETURN(std::optional<int64_t> version, ParseVersion(request.version()));
  auto found = path.Find({request.name(), version, std::nullopt});
  if (found.ok()) {
    response->set_ready(true);
    return absl::OkStatus();
  }
  // A configured model that has no such version ready yet is "not ready"; an unknown one is an error.
  if (path.manager().GetModelStatus(request.name()).ok()) {
    response->set_ready(false);
    return absl::OkStatus();
  }
  return found.status();
}

void KServeServerMetadata(inference::ServerMetadataResponse* response) {
  response->set_name("savant");
  response->set_version(kSavantVersion);
}

absl::Status KServeModelMetadata(const PredictPath& path, const inference::ModelMetadataRequest& request,
                                 inference::ModelMetadataResponse* response) {
  ASSIGN_OR_RETURN(std::optional<int64_t> version, ParseVersion(request.version()));
  ASSIGN_OR_RETURN(VersionHandle handle, path.Find({request.name(), version, std::nullopt}));
  response->set_name(handle->name);
  auto snapshot = path.manager().snapshot();
  auto model = snapshot->models.find(handle->name);
  if (model != snapshot->models.end()) {
    for (const auto& [v, h] : model->second.versions) response->add_versions(absl::StrCat(v));
  }
  response->set_platform(kPlatform);
  if (const loader::Signature* sig = DefaultSignature(*handle->model)) {
    for (const auto& b : sig->inputs) AddTensorMetadata(b, response->mutable_inputs());
    for (const auto& b : sig->outputs) AddTensorMetadata(b, response->mutable_outputs());
  }
  return absl::OkStatus();
}

absl::Status KServeModelInfer(const PredictPath& path, const inference::ModelInferRequest& request,
                              inference::ModelInferResponse* response) {
  ASSIGN_OR_RETURN(std::optional<int64_t> version, ParseVersion(request.model_version()));
  ASSIGN_OR_RETURN(VersionHandle handle, path.Find({request.model_name(), version, std::nullopt}));
  std::string signature;
  if (auto p = request.parameters().find(kSignatureParameter); p != request.parameters().end()) {
    signature = p->second.string_param();
  }
  const bool raw = !request.raw_input_contents().empty();
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(),
                                                   " entries for ", request.inputs_size(),
                                                   " inputs; use it for every input or for none"));
  }
  loader::NamedTensors inputs;
  for (int i = 0; i < request.inputs_size(); ++i) {
    ASSIGN_OR_RETURN(Tensor t, TensorFromKServe(request.inputs(i), raw ? &request.raw_input_contents(i) : nullptr));
    inputs.emplace_back(request.inputs(i).name(), std::move(t));
  }
  std::vector<std::string> filter;
  for (const auto& out : request.outputs()) filter.push_back(out.name());
  ASSIGN_OR_RETURN(loader::NamedTensors outputs, RunSignature(*handle, signature, inputs, filter));

  response->set_model_name(handle->name);
  response->set_model_version(absl::StrCat(handle->version));
  response->set_id(request.id());
  // Answer in the form the client used; types without a typed contents field force raw.
  bool raw_out = raw;
  for (const auto& [name, t] : outputs) {
    raw_out |= t.dtype() == DataType::kHalf || t.dtype() == DataType::kBFloat16;
  }
  auto emit = [&](const std::string& name, const Tensor& t) {
    auto* out = response->add_outputs();
    out->set_name(name);
    TensorToKServe(t, out, raw_out ? response->add_raw_output_contents() : nullptr);
  };
  if (filter.empty()) {
    for (const auto& [name, t] : outputs) emit(name, t);
  } else {
    for (const std::string& name : filter) {
      for (const auto& [alias, t] : outputs) {
        if (alias == name) emit(alias, t);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace savant::server
