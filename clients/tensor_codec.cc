#include "clients/tensor_codec.h"

#include <cstring>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tensorflow/core/framework/types.pb.h"

namespace savant::clients {
namespace {

using tensorflow::DataType;
using tensorflow::TensorProto;
using codec::ReadFile;

absl::Status Prefix(absl::string_view where, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
}

// "a=1;b=2" -> {(a,1),(b,2)}; values may hold ';' inside brackets or quotes (same rule as `savant run`).
std::vector<std::string> SplitEntries(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '[' || c == '{')) depth++;
    if (!quoted && (c == ']' || c == '}')) depth--;
    if (c == ';' && depth == 0 && !quoted) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool LooksLiteral(const std::string& v) {
  return !v.empty() && (v[0] == '[' || v[0] == '"' || v[0] == '-' || v[0] == '{' ||
                        std::isdigit(static_cast<unsigned char>(v[0])) || v == "true" || v == "false" ||
                        v == "NaN" || v == "Infinity");
}

std::string ValueToString(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteNanAndInfFlag>
      w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

absl::StatusOr<std::vector<InputValue>> ParseInputsFlag(const std::string& spec) {
  std::vector<InputValue> out;
  for (const std::string& entry : SplitEntries(spec)) {
    if (entry[0] == '@') {
      auto text = ReadFile(entry.substr(1));
      if (!text.ok()) return Prefix("--inputs", text.status());
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseNanAndInfFlag>(text->data(), text->size());
      if (doc.HasParseError() || !doc.IsObject()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--inputs \"", entry, "\": expected a JSON object {\"alias\": value, ...}"));
      }
      const rapidjson::Value* obj = &doc;
      if (doc.HasMember("inputs") && doc["inputs"].IsObject()) obj = &doc["inputs"];
      for (const auto& m : obj->GetObject()) {
        out.push_back({std::string(m.name.GetString(), m.name.GetStringLength()), std::nullopt, ValueToString(m.value)});
      }
      continue;
    }
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--inputs \"", entry, "\": expected alias=VALUE, alias=@file.npy, alias=@file.json or @file.json"));
    }
    InputValue v;
    v.alias = entry.substr(0, eq);
    std::string value = entry.substr(eq + 1);
    std::string path;
    if (!value.empty() && value[0] == '@') {
      path = value.substr(1);
    } else if (!LooksLiteral(value)) {
      path = value;  // `savant run` form: alias=file.npy
    }
    if (path.empty()) {
      v.literal = value;
    } else if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0) {
      auto t = ReadNpy(path);
      if (!t.ok()) return Prefix(absl::StrCat("--inputs \"", v.alias, "\""), t.status());
      v.tensor = *std::move(t);
    } else {
      auto text = ReadFile(path);
      if (!text.ok()) return Prefix(absl::StrCat("--inputs \"", v.alias, "\""), text.status());
      v.literal = *std::move(text);
    }
    out.push_back(std::move(v));
  }
  if (out.empty()) return absl::InvalidArgumentError("--inputs is empty");
  return out;
}

std::string KServeDatatype(DataType dtype) {
  switch (dtype) {
    case tensorflow::DT_BOOL: return "BOOL";
    case tensorflow::DT_UINT8: return "UINT8";
    case tensorflow::DT_UINT16: return "UINT16";
    case tensorflow::DT_UINT32: return "UINT32";
    case tensorflow::DT_UINT64: return "UINT64";
    case tensorflow::DT_INT8: return "INT8";
    case tensorflow::DT_INT16: return "INT16";
    case tensorflow::DT_INT32: return "INT32";
    case tensorflow::DT_INT64: return "INT64";
    case tensorflow::DT_HALF: return "FP16";
    case tensorflow::DT_FLOAT: return "FP32";
    case tensorflow::DT_DOUBLE: return "FP64";
    case tensorflow::DT_STRING: return "BYTES";
    case tensorflow::DT_BFLOAT16: return "BF16";
    default: return "";
  }
}

DataType FromKServeDatatype(absl::string_view datatype) {
  for (DataType d : {tensorflow::DT_BOOL, tensorflow::DT_UINT8, tensorflow::DT_UINT16, tensorflow::DT_UINT32,
                     tensorflow::DT_UINT64, tensorflow::DT_INT8, tensorflow::DT_INT16, tensorflow::DT_INT32,
                     tensorflow::DT_INT64, tensorflow::DT_HALF, tensorflow::DT_FLOAT, tensorflow::DT_DOUBLE,
                     tensorflow::DT_STRING, tensorflow::DT_BFLOAT16}) {
    if (KServeDatatype(d) == datatype) return d;
  }
  return tensorflow::DT_INVALID;
}

absl::StatusOr<inference::ModelInferRequest::InferInputTensor> ToKServeInput(const std::string& name,
                                                                             const TensorProto& t) {
  inference::ModelInferRequest::InferInputTensor in;
  in.set_name(name);
  in.set_datatype(KServeDatatype(t.dtype()));
  if (in.datatype().empty() || t.dtype() == tensorflow::DT_HALF || t.dtype() == tensorflow::DT_BFLOAT16) {
    return absl::InvalidArgumentError(
        absl::StrCat("input \"", name, "\": ", DataTypeName(t.dtype()), " has no KServe typed contents field"));
  }
  for (int64_t d : TensorShape(t)) in.add_shape(d);
  auto tokens = ElementTokens(t);
  if (!tokens.ok()) return tokens.status();
  // Re-parse each token: one path for *_val and tensor_content alike.
  auto* c = in.mutable_contents();
  for (const std::string& tok : *tokens) {
    rapidjson::Document v;
    v.Parse<rapidjson::kParseNanAndInfFlag>(tok.data(), tok.size());
    switch (t.dtype()) {
      case tensorflow::DT_FLOAT: c->add_fp32_contents(static_cast<float>(v.GetDouble())); break;
      case tensorflow::DT_DOUBLE: c->add_fp64_contents(v.GetDouble()); break;
      case tensorflow::DT_INT8: case tensorflow::DT_INT16: case tensorflow::DT_INT32:
        c->add_int_contents(v.GetInt());
        break;
      case tensorflow::DT_INT64: c->add_int64_contents(v.GetInt64()); break;
      case tensorflow::DT_UINT8: case tensorflow::DT_UINT16: case tensorflow::DT_UINT32:
        c->add_uint_contents(v.GetUint());
        break;
      case tensorflow::DT_UINT64: c->add_uint64_contents(v.GetUint64()); break;
      case tensorflow::DT_BOOL: c->add_bool_contents(v.GetBool()); break;
      case tensorflow::DT_STRING: c->add_bytes_contents(std::string(v.GetString(), v.GetStringLength())); break;
      default: break;
    }
  }
  return in;
}

absl::StatusOr<TensorProto> FromKServeOutput(const inference::ModelInferResponse::InferOutputTensor& out,
                                             const std::string* raw) {
  TensorProto t;
  t.set_dtype(FromKServeDatatype(out.datatype()));
  if (t.dtype() == tensorflow::DT_INVALID) {
    return absl::InvalidArgumentError(absl::StrCat("output \"", out.name(), "\": unknown datatype \"",
                                                   out.datatype(), "\""));
  }
  int64_t n = 1;
  for (int64_t d : out.shape()) {
    t.mutable_tensor_shape()->add_dim()->set_size(d);
    n *= d;
  }
  if (raw != nullptr) {
    if (t.dtype() == tensorflow::DT_STRING) {
      // BYTES: each element is a 4-byte little-endian length and the bytes.
      size_t pos = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (pos + 4 > raw->size()) return absl::InvalidArgumentError("truncated BYTES raw output");
        uint32_t len = 0;
        std::memcpy(&len, raw->data() + pos, 4);
        pos += 4;
        if (pos + len > raw->size()) return absl::InvalidArgumentError("truncated BYTES raw output");
        t.add_string_val(raw->substr(pos, len));
        pos += len;
      }
    } else {
      t.set_tensor_content(*raw);
    }
    return t;
  }
  const auto& c = out.contents();
  switch (t.dtype()) {
    case tensorflow::DT_FLOAT: t.mutable_float_val()->CopyFrom(c.fp32_contents()); break;
    case tensorflow::DT_DOUBLE: t.mutable_double_val()->CopyFrom(c.fp64_contents()); break;
    case tensorflow::DT_INT8: case tensorflow::DT_INT16: case tensorflow::DT_INT32:
      t.mutable_int_val()->CopyFrom(c.int_contents());
      break;
    case tensorflow::DT_UINT8: case tensorflow::DT_UINT16:
      for (uint32_t v : c.uint_contents()) t.add_int_val(static_cast<int32_t>(v));
      break;
    case tensorflow::DT_UINT32: t.mutable_uint32_val()->CopyFrom(c.uint_contents()); break;
    case tensorflow::DT_INT64: t.mutable_int64_val()->CopyFrom(c.int64_contents()); break;
    case tensorflow::DT_UINT64: t.mutable_uint64_val()->CopyFrom(c.uint64_contents()); break;
    case tensorflow::DT_BOOL: t.mutable_bool_val()->CopyFrom(c.bool_contents()); break;
    case tensorflow::DT_STRING: t.mutable_string_val()->CopyFrom(c.bytes_contents()); break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("output \"", out.name(), "\": ", out.datatype(),
                                                     " needs raw_output_contents"));
  }
  return t;
}

absl::StatusOr<std::string> KServeJsonInput(const std::string& name, const TensorProto& t) {
  const std::string datatype = KServeDatatype(t.dtype());
  if (datatype.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": ", DataTypeName(t.dtype()),
                                                   " has no KServe datatype"));
  }
  auto tokens = ElementTokens(t);
  if (!tokens.ok()) return tokens.status();
  std::vector<std::string> dims;
  for (int64_t d : TensorShape(t)) dims.push_back(absl::StrCat(d));
  return absl::StrCat("{\"name\":", JsonQuote(name), ",\"datatype\":\"", datatype, "\",\"shape\":[",
                      absl::StrJoin(dims, ","), "],\"data\":[", absl::StrJoin(*tokens, ","), "]}");
}

}  // namespace savant::clients
