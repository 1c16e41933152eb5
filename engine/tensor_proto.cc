#include "engine/tensor_proto.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace savant::engine {
namespace {

// A splatted typed field can describe a huge tensor in a few bytes. TensorFlow would try to
// allocate it; we refuse above this size so that a hostile request cannot exhaust memory (a real
// constant this large could not be served anyway).
constexpr uint64_t kMaxSplatBytes = uint64_t{1} << 32;

bool IsKnownDataType(int value) {
  return value >= static_cast<int>(DataType::kFloat) &&
         value <= static_cast<int>(DataType::kUInt64);
}

std::string Describe(DataType dtype, const Shape& shape) {
  return absl::StrCat(DataTypeName(dtype), " ", shape.DebugString());
}

// Copies `field` (a RepeatedField of a proto scalar type) into n elements of `out`, splatting
// the last value, or zero-filling when the field is empty (tensor.cc FromProtoField).
template <typename T, typename Field>
void FillFromField(const Field& field, int64_t n, T* out) {
  const int64_t in_n = field.size();
  if (in_n <= 0) {
    std::fill_n(out, n, T());
    return;
  }
  const int64_t m = std::min(n, in_n);
  for (int64_t i = 0; i < m; ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
  if (m < n) std::fill(out + m, out + n, out[m - 1]);
}

// Complex values are (real, imaginary) pairs in a float or double field; an odd trailing value
// is ignored, as in TensorFlow.
template <typename F, typename Field>
void FillComplexFromField(const Field& field, int64_t n, F* out) {
  const int64_t in_n = field.size() / 2;
  if (in_n <= 0) {
    std::fill_n(out, 2 * n, F());
    return;
  }
  const int64_t m = std::min(n, in_n);
  for (int64_t i = 0; i < 2 * m; ++i) out[i] = field.Get(static_cast<int>(i));
  for (int64_t i = m; i < n; ++i) {
    out[2 * i] = out[2 * (m - 1)];
    out[2 * i + 1] = out[2 * (m - 1) + 1];
  }
}

// TensorFlow's DecodeStringList: n varint32 lengths, then the concatenated bytes, nothing else.
bool DecodeStringList(const std::string& src, std::span<std::string> out) {
  size_t pos = 0;
  std::vector<uint32_t> sizes(out.size());
  uint64_t total = 0;
  for (uint32_t& size : sizes) {
    uint32_t v = 0;
    int shift = 0;
    while (true) {
      if (pos >= src.size() || shift > 28) return false;
      const auto byte = static_cast<uint8_t>(src[pos++]);
      v |= static_cast<uint32_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
      shift += 7;
    }
    size = v;
    total += v;
  }
  if (total != src.size() - pos) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].assign(src, pos, sizes[i]);
    pos += sizes[i];
  }
  return true;
}

absl::Status FillFromTensorContent(const tensorflow::TensorProto& proto, Tensor& t) {
  const std::string& content = proto.tensor_content();
  const DataType dtype = t.dtype();
  if (dtype == DataType::kString) {
    if (!DecodeStringList(content, t.flat<std::string>())) {
      return absl::InvalidArgumentError(
          absl::StrCat("TensorProto ", Describe(dtype, t.shape()),
                       ": tensor_content is not a valid string list of ", t.num_elements(),
                       " elements (", content.size(), " bytes)"));
    }
    return absl::OkStatus();
  }
  if (content.size() != t.byte_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TensorProto ", Describe(dtype, t.shape()), ": tensor_content has ",
                     content.size(), " bytes, expected ", t.byte_size(), " (", t.num_elements(),
                     " elements of ", DataTypeSize(dtype), " bytes)"));
  }
  std::memcpy(t.raw_data(), content.data(), content.size());
  if (dtype == DataType::kBool) {
    // A byte other than 0 or 1 is not a valid bool; normalise instead of carrying UB around.
    auto* bytes = t.data<uint8_t>();
    for (int64_t i = 0; i < t.num_elements(); ++i) bytes[i] = bytes[i] != 0;
  }
  return absl::OkStatus();
}

void FillFromTypedField(const tensorflow::TensorProto& p, Tensor& t) {
  const int64_t n = t.num_elements();
  switch (t.dtype()) {
    case DataType::kFloat:
      FillFromField(p.float_val(), n, t.data<float>());
      break;
    case DataType::kDouble:
      FillFromField(p.double_val(), n, t.data<double>());
      break;
    case DataType::kInt32:
    case DataType::kQInt32:
      FillFromField(p.int_val(), n, t.data<int32_t>());
      break;
    case DataType::kUInt8:
    case DataType::kQUInt8:
      FillFromField(p.int_val(), n, t.data<uint8_t>());
      break;
    case DataType::kInt8:
    case DataType::kQInt8:
      FillFromField(p.int_val(), n, t.data<int8_t>());
      break;
    case DataType::kInt16:
    case DataType::kQInt16:
      FillFromField(p.int_val(), n, t.data<int16_t>());
      break;
    case DataType::kUInt16:
    case DataType::kQUInt16:
      FillFromField(p.int_val(), n, t.data<uint16_t>());
      break;
    case DataType::kInt64:
      FillFromField(p.int64_val(), n, t.data<int64_t>());
      break;
    case DataType::kUInt32:
      FillFromField(p.uint32_val(), n, t.data<uint32_t>());
      break;
    case DataType::kUInt64:
      FillFromField(p.uint64_val(), n, t.data<uint64_t>());
      break;
    case DataType::kBool:
      FillFromField(p.bool_val(), n, t.data<bool>());
      break;
    case DataType::kHalf:
    case DataType::kBFloat16:
      FillFromField(p.half_val(), n, t.data<uint16_t>());
      break;
    case DataType::kComplex64:
      FillComplexFromField(p.scomplex_val(), n, t.data<float>());
      break;
    case DataType::kComplex128:
      FillComplexFromField(p.dcomplex_val(), n, t.data<double>());
      break;
    case DataType::kString: {
      auto out = t.flat<std::string>();
      const int64_t in_n = p.string_val_size();
      if (in_n == 0) break;  // already empty strings
      const int64_t m = std::min(n, in_n);
      for (int64_t i = 0; i < m; ++i) out[i] = p.string_val(static_cast<int>(i));
      for (int64_t i = m; i < n; ++i) out[i] = out[m - 1];
      break;
    }
    default:
      break;  // rejected by the caller
  }
}

template <typename T, typename Field>
void AppendAll(const Tensor& t, Field* field) {
  const T* data = t.data<T>();
  field->Reserve(static_cast<int>(t.num_elements()));
  for (int64_t i = 0; i < t.num_elements(); ++i) field->Add(data[i]);
}

}  // namespace

absl::StatusOr<Shape> ShapeFromProto(const tensorflow::TensorShapeProto& proto) {
  if (proto.unknown_rank()) {
    return absl::InvalidArgumentError("shape has an unknown rank, expected a concrete shape");
  }
  Shape shape;
  int64_t n = 1;
  for (const auto& dim : proto.dim()) {
    if (dim.size() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", PartialShapeFromProto(proto).DebugString(),
                       " has an unknown or negative dim, expected a concrete shape"));
    }
    if (dim.size() > 0 && n > std::numeric_limits<int64_t>::max() / dim.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", PartialShapeFromProto(proto).DebugString(), " has too many elements"));
    }
    n *= dim.size();
    shape.AddDim(dim.size());
  }
  return shape;
}

PartialShape PartialShapeFromProto(const tensorflow::TensorShapeProto& proto) {
  if (proto.unknown_rank()) return PartialShape::UnknownRank();
  std::vector<int64_t> dims;
  dims.reserve(proto.dim_size());
  for (const auto& dim : proto.dim()) dims.push_back(dim.size() < 0 ? -1 : dim.size());
  return PartialShape::FromDims(dims);
}

void ShapeToProto(const Shape& shape, tensorflow::TensorShapeProto* proto) {
  proto->Clear();
  for (int64_t d : shape.dims()) proto->add_dim()->set_size(d);
}

void PartialShapeToProto(const PartialShape& shape, tensorflow::TensorShapeProto* proto) {
  proto->Clear();
  if (shape.unknown_rank()) {
    proto->set_unknown_rank(true);
    return;
  }
  for (int64_t d : shape.dims()) proto->add_dim()->set_size(d);
}

absl::StatusOr<Tensor> TensorFromProto(const tensorflow::TensorProto& proto) {
  const int raw_dtype = static_cast<int>(proto.dtype());
  if (!IsKnownDataType(raw_dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TensorProto has dtype ", raw_dtype,
                     ", which is not a TensorFlow value dtype (DT_FLOAT=1 .. DT_UINT64=23)"));
  }
  const auto dtype = static_cast<DataType>(raw_dtype);
  auto shape_or = ShapeFromProto(proto.tensor_shape());
  if (!shape_or.ok()) {
    return Annotate(shape_or.status(), absl::StrCat("TensorProto ", DataTypeName(dtype)));
  }
  const Shape shape = *std::move(shape_or);
  if (dtype == DataType::kResource || dtype == DataType::kVariant) {
    return absl::UnimplementedError(absl::StrCat("TensorProto ", Describe(dtype, shape),
                                                 ": tensors of this dtype cannot be decoded"));
  }
  const int64_t n = shape.num_elements();
  const uint64_t element_bytes =
      dtype == DataType::kString ? sizeof(std::string) : DataTypeSize(dtype);
  if (static_cast<uint64_t>(n) > kMaxSplatBytes / element_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("TensorProto ", Describe(dtype, shape), ": ", n,
                                                   " elements exceed the limit of ", kMaxSplatBytes,
                                                   " bytes"));
  }
  Tensor t(dtype, shape);
  if (n == 0) return t;
  if (!proto.tensor_content().empty()) {
    RETURN_IF_ERROR(FillFromTensorContent(proto, t));
  } else {
    FillFromTypedField(proto, t);
  }
  return t;
}

void TensorToProto(const Tensor& t, tensorflow::TensorProto* proto, bool use_tensor_content) {
  proto->Clear();
  proto->set_dtype(static_cast<tensorflow::DataType>(t.dtype()));
  ShapeToProto(t.shape(), proto->mutable_tensor_shape());
  if (t.num_elements() == 0) return;
  if (t.dtype() == DataType::kString) {
    for (const std::string& s : t.flat<std::string>()) proto->add_string_val(s);
    return;
  }
  if (!IsPodType(t.dtype())) return;
  if (use_tensor_content) {
    proto->set_tensor_content(static_cast<const char*>(t.raw_data()), t.byte_size());
    return;
  }
  switch (t.dtype()) {
    case DataType::kFloat:
      AppendAll<float>(t, proto->mutable_float_val());
      break;
    case DataType::kDouble:
      AppendAll<double>(t, proto->mutable_double_val());
      break;
    case DataType::kInt32:
    case DataType::kQInt32:
      AppendAll<int32_t>(t, proto->mutable_int_val());
      break;
    case DataType::kUInt8:
    case DataType::kQUInt8:
      AppendAll<uint8_t>(t, proto->mutable_int_val());
      break;
    case DataType::kInt8:
    case DataType::kQInt8:
      AppendAll<int8_t>(t, proto->mutable_int_val());
      break;
    case DataType::kInt16:
    case DataType::kQInt16:
      AppendAll<int16_t>(t, proto->mutable_int_val());
      break;
    case DataType::kUInt16:
    case DataType::kQUInt16:
      AppendAll<uint16_t>(t, proto->mutable_int_val());
      break;
    case DataType::kInt64:
      AppendAll<int64_t>(t, proto->mutable_int64_val());
      break;
    case DataType::kUInt32:
      AppendAll<uint32_t>(t, proto->mutable_uint32_val());
      break;
    case DataType::kUInt64:
      AppendAll<uint64_t>(t, proto->mutable_uint64_val());
      break;
    case DataType::kBool:
      AppendAll<bool>(t, proto->mutable_bool_val());
      break;
    case DataType::kHalf:
    case DataType::kBFloat16:
      AppendAll<uint16_t>(t, proto->mutable_half_val());
      break;
    case DataType::kComplex64: {
      const float* p = t.data<float>();
      proto->mutable_scomplex_val()->Add(p, p + 2 * t.num_elements());
      break;
    }
    case DataType::kComplex128: {
      const double* p = t.data<double>();
      proto->mutable_dcomplex_val()->Add(p, p + 2 * t.num_elements());
      break;
    }
    default:
      break;
  }
}

}  // namespace savant::engine
