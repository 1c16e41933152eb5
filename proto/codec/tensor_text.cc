#include "proto/codec/tensor_text.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow/core/framework/types.pb.h"

namespace savant::codec {
namespace {

using tensorflow::DataType;
using tensorflow::TensorProto;

absl::Status ShapeOf(const rapidjson::Value& v, std::vector<int64_t>* shape, int depth) {
  if (!v.IsArray()) return absl::OkStatus();
  if (depth > 32) return absl::InvalidArgumentError("lists nested deeper than 32");
  shape->push_back(v.Size());
  if (v.Size() > 0) return ShapeOf(v[0], shape, depth + 1);
  return absl::OkStatus();
}

absl::Status Flatten(const rapidjson::Value& v, const std::vector<int64_t>& shape, size_t depth,
                     std::vector<const rapidjson::Value*>* out) {
  if (depth == shape.size()) {
    if (v.IsArray()) return absl::InvalidArgumentError("lists are ragged (nested deeper in places)");
    out->push_back(&v);
    return absl::OkStatus();
  }
  if (!v.IsArray() || static_cast<int64_t>(v.Size()) != shape[depth]) {
    return absl::InvalidArgumentError(
        absl::StrCat("lists are ragged: expected ", shape[depth], " values at depth ", depth));
  }
  for (const auto& e : v.GetArray()) {
    absl::Status s = Flatten(e, shape, depth + 1, out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> AsDouble(const rapidjson::Value& v, size_t i) {
  if (v.IsBool()) return v.GetBool() ? 1.0 : 0.0;
  if (!v.IsNumber()) return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a number"));
  return v.GetDouble();
}

template <typename T>
absl::StatusOr<T> AsInteger(const rapidjson::Value& v, size_t i, DataType dtype) {
  if (v.IsBool()) return static_cast<T>(v.GetBool());
  if (!v.IsInt64() && !v.IsUint64()) {
    return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not an integer (", DataTypeName(dtype), ")"));
  }
  if (v.IsUint64() && !v.IsInt64()) {
    if constexpr (std::is_same_v<T, uint64_t>) return v.GetUint64();
    return absl::InvalidArgumentError(absl::StrCat("value ", v.GetUint64(), " does not fit ", DataTypeName(dtype)));
  }
  int64_t x = v.GetInt64();
  if constexpr (std::is_unsigned_v<T>) {
    if (x < 0 || static_cast<uint64_t>(x) > std::numeric_limits<T>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("value ", x, " does not fit ", DataTypeName(dtype)));
    }
  } else {
    if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        x > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return absl::InvalidArgumentError(absl::StrCat("value ", x, " does not fit ", DataTypeName(dtype)));
    }
  }
  return static_cast<T>(x);
}

template <typename T>
void AppendNumber(std::string* out, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return out->append("NaN"), void();
    if (std::isinf(v)) return out->append(v > 0 ? "Infinity" : "-Infinity"), void();
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

size_t ElementSize(DataType d) {
  switch (d) {
    case tensorflow::DT_FLOAT: case tensorflow::DT_INT32: case tensorflow::DT_UINT32: return 4;
    case tensorflow::DT_DOUBLE: case tensorflow::DT_INT64: case tensorflow::DT_UINT64: return 8;
    case tensorflow::DT_INT16: case tensorflow::DT_UINT16: case tensorflow::DT_HALF: case tensorflow::DT_BFLOAT16:
      return 2;
    case tensorflow::DT_INT8: case tensorflow::DT_UINT8: case tensorflow::DT_BOOL: return 1;
    default: return 0;
  }
}

// The tokens of `n` little-endian elements of `dtype` packed in `bytes`.
absl::StatusOr<std::vector<std::string>> TokensFromBytes(absl::string_view bytes, DataType dtype, int64_t n) {
  const size_t size = ElementSize(dtype);
  if (size == 0) return absl::InvalidArgumentError(absl::StrCat(DataTypeName(dtype), " cannot be packed as bytes"));
  if (bytes.size() != size * static_cast<size_t>(n)) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", size * n, " bytes for ", n, " ", DataTypeName(dtype),
                                                   " elements, got ", bytes.size()));
  }
  std::vector<std::string> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const char* p = bytes.data() + i * size;
    auto load = [p](auto v) {
      std::memcpy(&v, p, sizeof(v));
      return v;
    };
    std::string& s = out[i];
    switch (dtype) {
      case tensorflow::DT_FLOAT: AppendNumber(&s, load(float{})); break;
      case tensorflow::DT_DOUBLE: AppendNumber(&s, load(double{})); break;
      case tensorflow::DT_INT32: AppendNumber(&s, load(int32_t{})); break;
      case tensorflow::DT_UINT32: AppendNumber(&s, load(uint32_t{})); break;
      case tensorflow::DT_INT64: AppendNumber(&s, load(int64_t{})); break;
      case tensorflow::DT_UINT64: AppendNumber(&s, load(uint64_t{})); break;
      case tensorflow::DT_INT16: AppendNumber(&s, load(int16_t{})); break;
      case tensorflow::DT_UINT16: AppendNumber(&s, load(uint16_t{})); break;
      case tensorflow::DT_INT8: AppendNumber(&s, static_cast<int>(load(int8_t{}))); break;
      case tensorflow::DT_UINT8: AppendNumber(&s, static_cast<int>(load(uint8_t{}))); break;
      case tensorflow::DT_BOOL: s = load(uint8_t{}) ? "true" : "false"; break;
      case tensorflow::DT_HALF: AppendNumber(&s, HalfToFloat(load(uint16_t{}))); break;
      case tensorflow::DT_BFLOAT16: {
        uint32_t bits = static_cast<uint32_t>(load(uint16_t{})) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        AppendNumber(&s, f);
        break;
      }
      default: break;
    }
  }
  return out;
}

// Values from a repeated field; TensorFlow lets one value stand for all elements.
template <typename Field, typename Fn>
absl::StatusOr<std::vector<std::string>> TokensFromField(const Field& field, int64_t n, Fn fn) {
  if (field.size() != n && !(field.size() == 1 && n > 1)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor holds ", field.size(), " values for ", n, " elements"));
  }
  std::vector<std::string> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = fn(field.Get(field.size() == 1 ? 0 : i));
  return out;
}

void AppendNested(std::string* out, const std::vector<std::string>& tokens, const std::vector<int64_t>& shape,
                  size_t depth, size_t* index) {
  if (depth == shape.size()) {
    out->append(tokens[(*index)++]);
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < shape[depth]; ++i) {
    if (i) out->append(", ");
    AppendNested(out, tokens, shape, depth + 1, index);
  }
  out->push_back(']');
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open \"", path, "\""));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}


std::string DataTypeName(DataType dtype) { return tensorflow::DataType_Name(dtype); }

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned char>(c));
      out.append(esc);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<TensorProto> LiteralToTensor(absl::string_view json, DataType dtype) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON value at offset ", doc.GetErrorOffset(), ": ",
                                                   rapidjson::GetParseError_En(doc.GetParseError())));
  }
  return JsonToTensor(doc, dtype);
}

absl::StatusOr<TensorProto> JsonToTensor(const rapidjson::Value& value, DataType dtype) {
  std::vector<int64_t> shape;
  absl::Status s = ShapeOf(value, &shape, 0);
  if (s.ok()) {
    std::vector<const rapidjson::Value*> vals;
    s = Flatten(value, shape, 0, &vals);
    if (s.ok()) {
      TensorProto t;
      t.set_dtype(dtype);
      for (int64_t d : shape) t.mutable_tensor_shape()->add_dim()->set_size(d);
      for (size_t i = 0; i < vals.size(); ++i) {
        const rapidjson::Value& v = *vals[i];
#define SAVANT_INT_CASE(DT, T, FIELD)                   \
  case tensorflow::DT: {                                \
    auto x = AsInteger<T>(v, i, dtype);                 \
    if (!x.ok()) return x.status();                     \
    t.add_##FIELD(*x);                                  \
    break;                                              \
  }
        switch (dtype) {
          case tensorflow::DT_FLOAT: {
            auto x = AsDouble(v, i);
            if (!x.ok()) return x.status();
            t.add_float_val(static_cast<float>(*x));
            break;
          }
          case tensorflow::DT_DOUBLE: {
            auto x = AsDouble(v, i);
            if (!x.ok()) return x.status();
            t.add_double_val(*x);
            break;
          }
          SAVANT_INT_CASE(DT_INT32, int32_t, int_val)
          SAVANT_INT_CASE(DT_INT16, int16_t, int_val)
          SAVANT_INT_CASE(DT_INT8, int8_t, int_val)
          SAVANT_INT_CASE(DT_UINT8, uint8_t, int_val)
          SAVANT_INT_CASE(DT_UINT16, uint16_t, int_val)
          SAVANT_INT_CASE(DT_INT64, int64_t, int64_val)
          SAVANT_INT_CASE(DT_UINT32, uint32_t, uint32_val)
          SAVANT_INT_CASE(DT_UINT64, uint64_t, uint64_val)
#undef SAVANT_INT_CASE
          case tensorflow::DT_BOOL:
            if (!v.IsBool()) return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a bool"));
            t.add_bool_val(v.GetBool());
            break;
          case tensorflow::DT_STRING:
            // TensorFlow Serving's REST form of binary strings: {"b64": "..."}.
            if (v.IsObject() && v.HasMember("b64") && v["b64"].IsString()) {
              std::string bytes;
              if (!absl::Base64Unescape(v["b64"].GetString(), &bytes)) {
                return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not valid base64"));
              }
              t.add_string_val(std::move(bytes));
              break;
            }
            if (!v.IsString()) return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not a string"));
            t.add_string_val(std::string(v.GetString(), v.GetStringLength()));
            break;
          default:
            return absl::InvalidArgumentError(absl::StrCat("JSON values of ", DataTypeName(dtype), " are not supported"));
        }
      }
      return t;
    }
  }
  return s;
}

absl::StatusOr<TensorProto> ReadNpy(const std::string& path) {
  auto file = ReadFile(path);
  if (!file.ok()) return file.status();
  const std::string& bytes = *file;
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": not a .npy file (bad magic)"));
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 10;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  } else {
    if (bytes.size() < 12) return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": truncated header"));
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  }
  if (header_start + header_len > bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": truncated header"));
  }
  const std::string header = bytes.substr(header_start, header_len);
  auto field = [&](const std::string& key) -> std::string {
    auto pos = header.find("'" + key + "'");
    if (pos == std::string::npos) return "";
    pos = header.find(':', pos);
    return pos == std::string::npos ? "" : header.substr(pos + 1);
  };
  std::string descr = field("descr");
  auto q1 = descr.find('\'');
  auto q2 = q1 == std::string::npos ? q1 : descr.find('\'', q1 + 1);
  if (q2 == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": header has no descr"));
  descr = descr.substr(q1 + 1, q2 - q1 - 1);
  const std::string fortran = field("fortran_order");
  if (fortran.find("True") < fortran.find(',')) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": Fortran-order arrays are not supported"));
  }
  static const std::pair<const char*, DataType> kTypes[] = {
      {"<f2", tensorflow::DT_HALF},   {"<f4", tensorflow::DT_FLOAT},  {"<f8", tensorflow::DT_DOUBLE},
      {"<i4", tensorflow::DT_INT32},  {"<i8", tensorflow::DT_INT64},  {"<i2", tensorflow::DT_INT16},
      {"|i1", tensorflow::DT_INT8},   {"|u1", tensorflow::DT_UINT8},  {"<u2", tensorflow::DT_UINT16},
      {"<u4", tensorflow::DT_UINT32}, {"<u8", tensorflow::DT_UINT64}, {"|b1", tensorflow::DT_BOOL}};
  DataType dtype = tensorflow::DT_INVALID;
  for (const auto& [d, t] : kTypes) {
    if (descr == d) dtype = t;
  }
  if (dtype == tensorflow::DT_INVALID) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": dtype '", descr, "' is not supported"));
  }
  const std::string shape_text = field("shape");
  auto p1 = shape_text.find('(');
  auto p2 = shape_text.find(')');
  if (p1 == std::string::npos || p2 == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": header has no shape"));
  }
  TensorProto t;
  t.set_dtype(dtype);
  int64_t n = 1;
  std::stringstream ss(shape_text.substr(p1 + 1, p2 - p1 - 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    int64_t d = 0;
    auto first = item.data() + item.find_first_not_of(' ');
    auto res = std::from_chars(first, item.data() + item.size(), d);
    if (res.ec != std::errc() || d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": bad shape \"", shape_text, "\""));
    }
    t.mutable_tensor_shape()->add_dim()->set_size(d);
    n *= d;
  }
  const size_t data_start = header_start + header_len;
  const size_t want = ElementSize(dtype) * static_cast<size_t>(n);
  if (bytes.size() - data_start != want) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\": expected ", want, " data bytes, found ",
                                                   bytes.size() - data_start));
  }
  t.set_tensor_content(bytes.substr(data_start));
  return t;
}

absl::StatusOr<tensorflow::serving::Input> ExamplesFromJson(absl::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) {
    return absl::InvalidArgumentError("examples must be a JSON list of objects, e.g. '[{\"x\": [1.0]}]'");
  }
  tensorflow::serving::Input input;
  auto* list = input.mutable_example_list();
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const auto& obj = doc[i];
    if (!obj.IsObject()) return absl::InvalidArgumentError(absl::StrCat("example ", i, " is not an object"));
    auto* features = list->add_examples()->mutable_features()->mutable_feature();
    for (const auto& m : obj.GetObject()) {
      const std::string name(m.name.GetString(), m.name.GetStringLength());
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
        return absl::InvalidArgumentError(absl::StrCat("example ", i, " feature \"", name, "\": mixed value types"));
      }
    }
  }
  return input;
}

std::vector<int64_t> TensorShape(const TensorProto& t) {
  std::vector<int64_t> shape;
  for (const auto& d : t.tensor_shape().dim()) shape.push_back(d.size());
  return shape;
}

int64_t NumElements(const TensorProto& t) {
  int64_t n = 1;
  for (const auto& d : t.tensor_shape().dim()) n *= d.size();
  return n;
}

absl::StatusOr<std::vector<std::string>> ElementTokens(const TensorProto& t) {
  const int64_t n = NumElements(t);
  if (n < 0) return absl::InvalidArgumentError("tensor has a negative dimension");
  const DataType d = t.dtype();
  if (!t.tensor_content().empty() || (n == 0 && d != tensorflow::DT_STRING)) {
    return TokensFromBytes(t.tensor_content(), d, n);
  }
  auto num = [](auto v) {
    std::string s;
    AppendNumber(&s, v);
    return s;
  };
  switch (d) {
    case tensorflow::DT_FLOAT: return TokensFromField(t.float_val(), n, num);
    case tensorflow::DT_DOUBLE: return TokensFromField(t.double_val(), n, num);
    case tensorflow::DT_INT32: case tensorflow::DT_INT16: case tensorflow::DT_INT8: case tensorflow::DT_UINT8:
    case tensorflow::DT_UINT16:
      return TokensFromField(t.int_val(), n, num);
    case tensorflow::DT_INT64: return TokensFromField(t.int64_val(), n, num);
    case tensorflow::DT_UINT32: return TokensFromField(t.uint32_val(), n, num);
    case tensorflow::DT_UINT64: return TokensFromField(t.uint64_val(), n, num);
    case tensorflow::DT_BOOL: return TokensFromField(t.bool_val(), n, [](bool b) { return std::string(b ? "true" : "false"); });
    case tensorflow::DT_STRING: return TokensFromField(t.string_val(), n, [](const std::string& s) { return JsonQuote(s); });
    case tensorflow::DT_HALF:
      return TokensFromField(t.half_val(), n, [&](int h) { return num(HalfToFloat(static_cast<uint16_t>(h))); });
    default:
      return absl::InvalidArgumentError(absl::StrCat("cannot print ", DataTypeName(d), " values"));
  }
}

absl::StatusOr<std::string> TensorToJson(const TensorProto& t) {
  auto tokens = ElementTokens(t);
  if (!tokens.ok()) return tokens.status();
  std::string out;
  size_t index = 0;
  AppendNested(&out, *tokens, TensorShape(t), 0, &index);
  return out;
}

}  // namespace savant::codec
