#include "server/tensor_text.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "tensorflow/core/example/example.pb.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;

absl::Status ShapeOf(const rapidjson::Value& v, Shape* shape, int depth) {
  if (!v.IsArray()) return absl::OkStatus();
  if (depth > 32) return absl::InvalidArgumentError("lists nested deeper than 32");
  shape->AddDim(v.Size());
  if (v.Size() > 0) return ShapeOf(v[0], shape, depth + 1);
  return absl::OkStatus();
}

// Flattens `v` in row-major order, checking every list has the shape's length at its depth.
absl::Status Flatten(const rapidjson::Value& v, const Shape& shape, int depth,
                     std::vector<const rapidjson::Value*>* out) {
  if (depth == shape.rank()) {
    if (v.IsArray()) return absl::InvalidArgumentError("lists are ragged (nested deeper in places)");
    out->push_back(&v);
    return absl::OkStatus();
  }
  if (!v.IsArray() || static_cast<int64_t>(v.Size()) != shape.dim(depth)) {
    return absl::InvalidArgumentError(absl::StrCat("lists are ragged: expected ", shape.dim(depth),
                                                   " values at depth ", depth));
  }
  for (const auto& e : v.GetArray()) RETURN_IF_ERROR(Flatten(e, shape, depth + 1, out));
  return absl::OkStatus();
}

template <typename T>
absl::Status FillNumbers(const std::vector<const rapidjson::Value*>& vals, Tensor& t) {
  auto out = t.flat<T>();
  for (size_t i = 0; i < vals.size(); ++i) {
    const auto& v = *vals[i];
    if (v.IsBool()) {
      out[i] = static_cast<T>(v.GetBool());
    } else if (!v.IsNumber()) {
      return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a number"));
    } else if constexpr (std::is_floating_point_v<T>) {
      out[i] = static_cast<T>(v.GetDouble());
    } else {
      if (!v.IsInt64() && !v.IsUint64()) {
        return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not an integer"));
      }
      int64_t x = v.IsInt64() ? v.GetInt64() : static_cast<int64_t>(v.GetUint64());
      if constexpr (sizeof(T) < 8) {
        if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
            x > static_cast<int64_t>(std::numeric_limits<T>::max())) {
          return absl::InvalidArgumentError(absl::StrCat("value ", x, " does not fit ",
                                                         engine::DataTypeName(t.dtype())));
        }
      }
      out[i] = static_cast<T>(x);
    }
  }
  return absl::OkStatus();
}

template <typename T>
void AppendNumber(std::string* out, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) {
      out->append("NaN");
      return;
    }
    if (std::isinf(v)) {
      out->append(v > 0 ? "Infinity" : "-Infinity");
      return;
    }
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void AppendElement(std::string* out, const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat: AppendNumber(out, t.data<float>()[i]); break;
    case DataType::kDouble: AppendNumber(out, t.data<double>()[i]); break;
    case DataType::kInt32: AppendNumber(out, t.data<int32_t>()[i]); break;
    case DataType::kInt64: AppendNumber(out, t.data<int64_t>()[i]); break;
    case DataType::kInt16: AppendNumber(out, t.data<int16_t>()[i]); break;
    case DataType::kInt8: AppendNumber(out, static_cast<int>(t.data<int8_t>()[i])); break;
    case DataType::kUInt8: AppendNumber(out, static_cast<int>(t.data<uint8_t>()[i])); break;
    case DataType::kUInt16: AppendNumber(out, t.data<uint16_t>()[i]); break;
    case DataType::kUInt32: AppendNumber(out, t.data<uint32_t>()[i]); break;
    case DataType::kUInt64: AppendNumber(out, t.data<uint64_t>()[i]); break;
    case DataType::kBool: out->append(t.data<bool>()[i] ? "true" : "false"); break;
    case DataType::kString: {
      out->push_back('"');
      for (char c : t.data<std::string>()[i]) {
        if (c == '"' || c == '\\') {
          out->push_back('\\');
          out->push_back(c);
        } else if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned char>(c));
          out->append(esc);
        } else {
          out->push_back(c);
        }
      }
      out->push_back('"');
      break;
    }
    default: out->append("null"); break;
  }
}

void AppendNested(std::string* out, const Tensor& t, int depth, int64_t* index) {
  if (depth == t.rank()) {
    AppendElement(out, t, (*index)++);
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < t.dim(depth); ++i) {
    if (i) out->append(", ");
    AppendNested(out, t, depth + 1, index);
  }
  out->push_back(']');
}

}  // namespace

absl::StatusOr<Tensor> ParseTensorLiteral(absl::string_view text, DataType dtype) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON value at offset ", doc.GetErrorOffset(),
                                                   ": ", rapidjson::GetParseError_En(doc.GetParseError())));
  }
  Shape shape;
  RETURN_IF_ERROR(ShapeOf(doc, &shape, 0));
  std::vector<const rapidjson::Value*> vals;
  RETURN_IF_ERROR(Flatten(doc, shape, 0, &vals));
  Tensor t(dtype, shape);
  switch (dtype) {
    case DataType::kFloat: RETURN_IF_ERROR(FillNumbers<float>(vals, t)); break;
    case DataType::kDouble: RETURN_IF_ERROR(FillNumbers<double>(vals, t)); break;
    case DataType::kInt32: RETURN_IF_ERROR(FillNumbers<int32_t>(vals, t)); break;
    case DataType::kInt64: RETURN_IF_ERROR(FillNumbers<int64_t>(vals, t)); break;
    case DataType::kInt16: RETURN_IF_ERROR(FillNumbers<int16_t>(vals, t)); break;
    case DataType::kInt8: RETURN_IF_ERROR(FillNumbers<int8_t>(vals, t)); break;
    case DataType::kUInt8: RETURN_IF_ERROR(FillNumbers<uint8_t>(vals, t)); break;
    case DataType::kUInt16: RETURN_IF_ERROR(FillNumbers<uint16_t>(vals, t)); break;
    case DataType::kUInt32: RETURN_IF_ERROR(FillNumbers<uint32_t>(vals, t)); break;
    case DataType::kUInt64: RETURN_IF_ERROR(FillNumbers<uint64_t>(vals, t)); break;
    case DataType::kBool: {
      auto out = t.flat<bool>();
      for (size_t i = 0; i < vals.size(); ++i) {
        if (!vals[i]->IsBool()) return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a bool"));
        out[i] = vals[i]->GetBool();
      }
      break;
    }
    case DataType::kString: {
      auto out = t.flat<std::string>();
      for (size_t i = 0; i < vals.size(); ++i) {
        if (!vals[i]->IsString()) return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a string"));
        out[i].assign(vals[i]->GetString(), vals[i]->GetStringLength());
      }
      break;
    }
    default:
      return absl::UnimplementedError(
          absl::StrCat("literal inputs of ", engine::DataTypeName(dtype), " are not supported"));
  }
  return t;
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a .npy file (bad magic)"));
  }
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else {
    if (bytes.size() < 12) return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  }
  if (header_start + header_len > bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
  }
  std::string header = bytes.substr(header_start, header_len);
  auto field = [&](const std::string& key) -> std::string {
    auto pos = header.find("'" + key + "'");
    if (pos == std::string::npos) return "";
    pos = header.find(':', pos);
    return pos == std::string::npos ? "" : header.substr(pos + 1);
  };
  std::string descr = field("descr");
  auto q1 = descr.find('\'');
  auto q2 = descr.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header has no descr"));
  }
  descr = descr.substr(q1 + 1, q2 - q1 - 1);
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) {
    return absl::UnimplementedError(absl::StrCat(path, ": Fortran-order arrays are not supported"));
  }
  static const std::pair<const char*, DataType> kTypes[] = {
      {"<f4", DataType::kFloat}, {"<f8", DataType::kDouble}, {"<i4", DataType::kInt32},
      {"<i8", DataType::kInt64}, {"<i2", DataType::kInt16},  {"|i1", DataType::kInt8},
      {"|u1", DataType::kUInt8}, {"<u2", DataType::kUInt16}, {"<u4", DataType::kUInt32},
      {"<u8", DataType::kUInt64}, {"|b1", DataType::kBool}};
  DataType dtype = DataType::kInvalid;
  for (const auto& [d, t] : kTypes) {
    if (descr == d) dtype = t;
  }
  if (dtype == DataType::kInvalid) {
    return absl::UnimplementedError(absl::StrCat(path, ": dtype '", descr, "' is not supported"));
  }
  std::string shape_text = field("shape");
  auto p1 = shape_text.find('(');
  auto p2 = shape_text.find(')');
  if (p1 == std::string::npos || p2 == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header has no shape"));
  }
  Shape shape;
  std::stringstream ss(shape_text.substr(p1 + 1, p2 - p1 - 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    shape.AddDim(std::stoll(item));
  }
  Tensor t(dtype, shape);
  size_t data_start = header_start + header_len;
  if (bytes.size() - data_start != t.byte_size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", t.byte_size(),
                                                   " data bytes for shape ", shape.DebugString(),
                                                   ", found ", bytes.size() - data_start));
  }
  if (t.byte_size() > 0) std::memcpy(t.raw_data(), bytes.data() + data_start, t.byte_size());
  return t;
}

absl::StatusOr<Tensor> ParseExamples(absl::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) {
    return absl::InvalidArgumentError("examples must be a JSON list of objects");
  }
  Tensor t(DataType::kString, Shape{static_cast<int64_t>(doc.Size())});
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const auto& obj = doc[i];
    if (!obj.IsObject()) return absl::InvalidArgumentError(absl::StrCat("example ", i, " is not an object"));
    tensorflow::Example example;
    auto* features = example.mutable_features()->mutable_feature();
    for (const auto& m : obj.GetObject()) {
      std::string name(m.name.GetString(), m.name.GetStringLength());
      tensorflow::Feature& f = (*features)[name];
      std::vector<const rapidjson::Value*> vals;
      if (m.value.IsArray()) {
        for (const auto& v : m.value.GetArray()) vals.push_back(&v);
      } else {
        vals.push_back(&m.value);
      }
      bool all_int = true, all_num = true, all_str = true;
      for (const auto* v : vals) {
        all_int = all_int && v->IsInt64();
        all_num = all_num && v->IsNumber();
        all_str = all_str && v->IsString();
      }
      if (vals.empty()) {
        f.mutable_float_list();
      } else if (all_int) {
        for (const auto* v : vals) f.mutable_int64_list()->add_value(v->GetInt64());
      } else if (all_num) {
        for (const auto* v : vals) f.mutable_float_list()->add_value(static_cast<float>(v->GetDouble()));
      } else if (all_str) {
        for (const auto* v : vals) f.mutable_bytes_list()->add_value(std::string(v->GetString(), v->GetStringLength()));
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("example ", i, " feature \"", name, "\": mixed value types"));
      }
    }
    example.SerializeToString(&t.flat<std::string>()[i]);
  }
  return t;
}

std::string FormatTensor(const Tensor& t) {
  std::string out;
  int64_t index = 0;
  AppendNested(&out, t, 0, &index);
  return out;
}

}  // namespace savant::server
