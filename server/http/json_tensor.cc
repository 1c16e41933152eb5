#include "server/http/json_tensor.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "tensorflow/core/example/example.pb.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;

constexpr char kSignatureKey[] = "signature_name";
constexpr char kInstancesKey[] = "instances";
constexpr char kInputsKey[] = "inputs";
constexpr char kContextKey[] = "context";
constexpr char kExamplesKey[] = "examples";
constexpr char kBase64Key[] = "b64";
constexpr char kBytesSuffix[] = "_bytes";
// Nesting deeper than this inside one tensor is refused (TensorFlow's own limit on rank is 254).
constexpr int kMaxTensorDepth = 64;

constexpr unsigned kParseFlags = rapidjson::kParseNanAndInfFlag | rapidjson::kParseIterativeFlag;

// TensorFlow's DataTypeString: "float", "int32", ...
std::string TypeString(DataType dtype) {
  absl::string_view name = engine::DataTypeName(dtype);
  if (absl::StartsWith(name, "DT_")) name.remove_prefix(3);
  return absl::AsciiStrToLower(name);
}

// A JSON number as RapidJSON reported it.
struct Number {
  enum class Kind { kInt, kUint, kDouble } kind = Kind::kInt;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;

  std::string ToString() const {
    switch (kind) {
      case Kind::kInt:
        return absl::StrCat(i);
      case Kind::kUint:
        return absl::StrCat(u);
      case Kind::kDouble: {
        std::string s;
        AppendJsonDouble(d, &s);
        return s;
      }
    }
    return "";
  }
};

absl::Status TypeError(const std::string& value, const char* json_type, DataType dtype) {
  return absl::InvalidArgumentError(
      absl::StrCat("JSON Value: ", value, " Type: ", json_type, " is not of expected type: ", TypeString(dtype)));
}

absl::Status LossyError(const Number& n, const char* target) {
  return absl::InvalidArgumentError(
      absl::StrCat("Cannot convert JSON value: ", n.ToString(), " to ", target, " without loss of precision."));
}

template <typename T>
bool IntFits(const Number& n, T* out) {
  if (n.kind == Number::Kind::kInt) {
    if (n.i < static_cast<int64_t>(std::numeric_limits<T>::lowest())) return false;
    if (n.i > 0 && static_cast<uint64_t>(n.i) > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    *out = static_cast<T>(n.i);
    return true;
  }
  if (n.kind == Number::Kind::kUint) {
    if (n.u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    *out = static_cast<T>(n.u);
    return true;
  }
  return false;
}

// Whether `n` converts to a floating type with `digits` mantissa bits without loss (TensorFlow
// Serving's IsLosslessDecimal): integers up to 2^digits - 1, finite decimals within range.
bool LosslessDecimal(const Number& n, int digits, double max) {
  const uint64_t max_int = (uint64_t{1} << digits) - 1;
  switch (n.kind) {
    case Number::Kind::kInt:
      return static_cast<uint64_t>(n.i < 0 ? -(n.i + 1) + uint64_t{1} : n.i) <= max_int;
    case Number::Kind::kUint:
      return n.u <= max_int;
    case Number::Kind::kDouble:
      return !std::isfinite(n.d) || (n.d <= max && n.d >= -max);
  }
  return false;
}

double AsDouble(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kInt:
      return static_cast<double>(n.i);
    case Number::Kind::kUint:
      return static_cast<double>(n.u);
    case Number::Kind::kDouble:
      return n.d;
  }
  return 0;
}

// The values of one input tensor while they are parsed: typed bytes (or strings), the shape
// implied by the list nesting, and a {"b64": ...} object in progress.
class Column {
 public:
  Column(const loader::TensorBinding* binding, int64_t max_elements)
      : binding_(binding), dtype_(binding->dtype), max_elements_(max_elements) {}

  const std::string& name() const { return binding_->alias; }
  int depth() const { return static_cast<int>(counts_.size()); }
  bool in_object() const { return b64_state_ != B64State::kNone; }
  // A value (scalar, list or b64 object) has just been completed at list depth `depth`.
  bool ValueDoneAt(int level) const { return depth() == level && !in_object(); }

  absl::Status StartArray() {
    if (in_object()) return Base64Error();
    if (rank_ >= 0 && depth() >= rank_) {
      return absl::InvalidArgumentError(
          absl::StrCat("Encountered list at unexpected level: ", depth(), " expected < ", rank_));
    }
    if (depth() >= kMaxTensorDepth) {
      return absl::InvalidArgumentError(absl::StrCat("lists nested deeper than ", kMaxTensorDepth, " levels"));
    }
    if (static_cast<int>(dims_.size()) <= depth()) dims_.push_back(-1);
    counts_.push_back(0);
    return absl::OkStatus();
  }

  absl::Status EndArray() {
    const int64_t n = counts_.back();
    counts_.pop_back();
    int64_t& dim = dims_[counts_.size()];
    if (dim < 0) {
      dim = n;
    } else if (dim != n) {
      return absl::InvalidArgumentError(absl::StrCat("Encountered list at unexpected size: ", n, " at level: ",
                                                     counts_.size(), " expected size: ", dim));
    }
    if (!counts_.empty()) ++counts_.back();
    return absl::OkStatus();
  }

  absl::Status StartObject() {
    if (in_object()) return Base64Error();
    if (dtype_ != DataType::kString) return TypeError("{...}", "Object", dtype_);
    b64_state_ = B64State::kKey;
    return absl::OkStatus();
  }
  absl::Status Key(absl::string_view key) {
    if (b64_state_ != B64State::kKey || key != kBase64Key) return Base64Error();
    b64_state_ = B64State::kValue;
    return absl::OkStatus();
  }
  absl::Status EndObject() {
    if (b64_state_ != B64State::kEnd) return Base64Error();
    b64_state_ = B64State::kNone;
    return absl::OkStatus();
  }

  absl::Status String(absl::string_view s) {
    if (b64_state_ == B64State::kValue) {
      RETURN_IF_ERROR(Scalar(s));
      std::string decoded;
      if (!absl::Base64Unescape(s, &decoded)) return absl::InvalidArgumentError("Unable to base64 decode");
      strings_.push_back(std::move(decoded));
      b64_state_ = B64State::kEnd;
      return absl::OkStatus();
    }
    if (in_object()) return Base64Error();
    if (dtype_ != DataType::kString) return TypeError(absl::StrCat("\"", s, "\""), "String", dtype_);
    RETURN_IF_ERROR(Scalar(s));
    strings_.emplace_back(s);
    return absl::OkStatus();
  }

  absl::Status Bool(bool b) {
    if (in_object()) return Base64Error();
    if (dtype_ != DataType::kBool) return TypeError(b ? "true" : "false", b ? "True" : "False", dtype_);
    RETURN_IF_ERROR(Scalar(b ? "true" : "false"));
    bytes_.push_back(b ? 1 : 0);
    return absl::OkStatus();
  }

  absl::Status Null() {
    if (in_object()) return Base64Error();
    return TypeError("null", "Null", dtype_);
  }

  absl::Status AddNumber(const Number& n) {
    if (in_object()) return Base64Error();
    switch (dtype_) {
      case DataType::kFloat:
        if (!LosslessDecimal(n, std::numeric_limits<float>::digits, std::numeric_limits<float>::max())) {
          return LossyError(n, "float");
        }
        return Append(static_cast<float>(AsDouble(n)), n);
      case DataType::kDouble:
        if (!LosslessDecimal(n, std::numeric_limits<double>::digits, std::numeric_limits<double>::max())) {
          return LossyError(n, "double");
        }
        return Append(AsDouble(n), n);
      case DataType::kInt8:
        return AppendInt<int8_t>(n);
      case DataType::kInt16:
        return AppendInt<int16_t>(n);
      case DataType::kInt32:
        return AppendInt<int32_t>(n);
      case DataType::kInt64:
        return AppendInt<int64_t>(n);
      case DataType::kUInt8:
        return AppendInt<uint8_t>(n);
      case DataType::kUInt16:
        return AppendInt<uint16_t>(n);
      case DataType::kUInt32:
        return AppendInt<uint32_t>(n);
      case DataType::kUInt64:
        return AppendInt<uint64_t>(n);
      case DataType::kString:
      case DataType::kBool:
        return TypeError(n.ToString(), "Number", dtype_);
      default:
        return absl::UnimplementedError(
            absl::StrCat("Conversion of JSON Value: ", n.ToString(), " to type: ", TypeString(dtype_)));
    }
  }

  // The tensor, once every value was added and every list closed.
  absl::StatusOr<Tensor> Finish() {
    if (depth() != 0 || in_object()) return absl::InternalError(absl::StrCat("input \"", name(), "\" is unfinished"));
    if (rank_ < 0) rank_ = static_cast<int>(dims_.size());
    Shape shape;
    for (int i = 0; i < rank_; ++i) shape.AddDim(i < static_cast<int>(dims_.size()) ? std::max<int64_t>(dims_[i], 0) : 0);
    if (shape.num_elements() != count_) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name(), "\": ", count_,
                                                     " values do not fill shape ", shape.DebugString()));
    }
    Tensor t(dtype_, shape);
    if (dtype_ == DataType::kString) {
      auto out = t.flat<std::string>();
      for (size_t i = 0; i < strings_.size(); ++i) out[i] = std::move(strings_[i]);
    } else if (!bytes_.empty()) {
      std::memcpy(t.raw_data(), bytes_.data(), bytes_.size());
    }
    return t;
  }

 private:
  enum class B64State { kNone, kKey, kValue, kEnd };

  absl::Status Base64Error() const {
    return absl::InvalidArgumentError(
        absl::StrCat("input \"", name(), "\": JSON Value not formatted correctly for base64 data"));
  }

  // Shape bookkeeping for one leaf value; `text` names it in errors.
  absl::Status Scalar(absl::string_view text) {
    if (rank_ < 0) {
      rank_ = depth();
    } else if (depth() != rank_) {
      return absl::InvalidArgumentError(absl::StrCat("JSON Value: ", text, " found at incorrect level: ", depth() + 1,
                                                     " in the JSON DOM. Expected at level: ", rank_));
    }
    if (!counts_.empty()) ++counts_.back();
    if (++count_ > max_elements_) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name(), "\" has more than ", max_elements_,
                                                     " elements (--rest_max_tensor_elements)"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Append(T v, const Number& n) {
    if (rank_ >= 0 && depth() != rank_) RETURN_IF_ERROR(Scalar(n.ToString()));
    RETURN_IF_ERROR(Scalar(absl::string_view()));
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status AppendInt(const Number& n) {
    T v{};
    if (!IntFits<T>(n, &v)) return TypeError(n.ToString(), "Number", dtype_);
    return Append(v, n);
  }

  const loader::TensorBinding* binding_;
  const DataType dtype_;
  const int64_t max_elements_;
  std::vector<int64_t> dims_;    // size of each list level once known (-1 before)
  std::vector<int64_t> counts_;  // elements so far in each open list
  int rank_ = -1;                // depth of the leaves once the first one was seen
  int64_t count_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<std::string> strings_;
  B64State b64_state_ = B64State::kNone;
};

// One SAX event.
struct Event {
  enum class Type { kNull, kBool, kNumber, kString, kKey, kStartObject, kEndObject, kStartArray, kEndArray } type;
  bool b = false;
  Number number;
  absl::string_view text;

  bool IsValueStart() const { return type != Type::kKey && type != Type::kEndObject && type != Type::kEndArray; }
};

absl::Status ToColumn(Column& c, const Event& e) {
  switch (e.type) {
    case Event::Type::kNull:
      return c.Null();
    case Event::Type::kBool:
      return c.Bool(e.b);
    case Event::Type::kNumber:
      return c.AddNumber(e.number);
    case Event::Type::kString:
      return c.String(e.text);
    case Event::Type::kKey:
      return c.Key(e.text);
    case Event::Type::kStartObject:
      return c.StartObject();
    case Event::Type::kEndObject:
      return c.EndObject();
    case Event::Type::kStartArray:
      return c.StartArray();
    case Event::Type::kEndArray:
      return c.EndArray();
  }
  return absl::OkStatus();
}

// Adapts RapidJSON's SAX callbacks to Event and stops the parse at the first error.
template <typename Derived>
class SaxAdapter {
 public:
  bool Null() { return Emit({Event::Type::kNull}); }
  bool Bool(bool b) {
    Event e{Event::Type::kBool};
    e.b = b;
    return Emit(e);
  }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Int64(int64_t i) {
    Event e{Event::Type::kNumber};
    e.number.kind = Number::Kind::kInt;
    e.number.i = i;
    return Emit(e);
  }
  bool Uint64(uint64_t u) {
    Event e{Event::Type::kNumber};
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      e.number.kind = Number::Kind::kInt;
      e.number.i = static_cast<int64_t>(u);
    } else {
      e.number.kind = Number::Kind::kUint;
      e.number.u = u;
    }
    return Emit(e);
  }
  bool Double(double d) {
    Event e{Event::Type::kNumber};
    e.number.kind = Number::Kind::kDouble;
    e.number.d = d;
    return Emit(e);
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    Event e{Event::Type::kString};
    e.text = absl::string_view(s, n);
    return Emit(e);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Event e{Event::Type::kKey};
    e.text = absl::string_view(s, n);
    return Emit(e);
  }
  bool StartObject() { return Emit({Event::Type::kStartObject}); }
  bool EndObject(rapidjson::SizeType) { return Emit({Event::Type::kEndObject}); }
  bool StartArray() { return Emit({Event::Type::kStartArray}); }
  bool EndArray(rapidjson::SizeType) { return Emit({Event::Type::kEndArray}); }

  const absl::Status& status() const { return status_; }

 protected:
  bool Fail(absl::Status status) {
    status_ = std::move(status);
    return false;
  }

 private:
  bool Emit(const Event& e) {
    absl::Status s = static_cast<Derived*>(this)->OnEvent(e);
    if (!s.ok()) return Fail(std::move(s));
    return !static_cast<Derived*>(this)->done();
  }

  absl::Status status_;
};

// Parses `json` with `handler`; the handler's own error wins over RapidJSON's.
template <typename Handler>
absl::Status RunSax(absl::string_view json, Handler& handler, bool stop_early) {
  if (json.empty()) return absl::InvalidArgumentError("JSON Parse error: The document is empty");
  rapidjson::MemoryStream stream(json.data(), json.size());
  rapidjson::Reader reader;
  rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, handler);
  if (!handler.status().ok()) return handler.status();
  if (result.IsError()) {
    if (stop_early && result.Code() == rapidjson::kParseErrorTermination) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("JSON Parse error: ", rapidjson::GetParseError_En(result.Code()),
                                                   " at offset: ", result.Offset()));
  }
  return absl::OkStatus();
}

// Finds the top-level "signature_name", stopping as soon as it is read.
class SignatureScanner : public SaxAdapter<SignatureScanner> {
 public:
  absl::Status OnEvent(const Event& e) {
    if (depth_ == 0 && e.type != Event::Type::kStartObject) {
      return absl::InvalidArgumentError("JSON Value: request body Is not object");
    }
    if (depth_ == 1 && e.type == Event::Type::kKey) {
      at_key_ = e.text == kSignatureKey;
      return absl::OkStatus();
    }
    if (depth_ == 1 && at_key_) {
      if (e.type != Event::Type::kString) {
        return absl::InvalidArgumentError(
            "JSON Value not formatted correctly. 'signature_name' key must be a string value.");
      }
      signature_ = std::string(e.text);
      done_ = true;
      return absl::OkStatus();
    }
    if (e.type == Event::Type::kStartObject || e.type == Event::Type::kStartArray) ++depth_;
    if (e.type == Event::Type::kEndObject || e.type == Event::Type::kEndArray) --depth_;
    if (depth_ == 1) at_key_ = false;
    return absl::OkStatus();
  }
  bool done() const { return done_; }
  std::string signature_;

 private:
  int depth_ = 0;
  bool at_key_ = false;
  bool done_ = false;
};

// The predict body parser: routes events of "instances" / "inputs" to the columns.
class PredictParser : public SaxAdapter<PredictParser> {
 public:
  PredictParser(const std::vector<loader::TensorBinding>& inputs, int64_t max_elements) {
    columns_.reserve(inputs.size());
    for (const auto& b : inputs) columns_.emplace_back(&b, max_elements);
    seen_.assign(columns_.size(), -1);
  }

  bool done() const { return false; }

  absl::Status OnEvent(const Event& e) {
    switch (state_) {
      case State::kStart:
        if (e.type != Event::Type::kStartObject) return absl::InvalidArgumentError("JSON Value: request body Is not object");
        state_ = State::kTopKey;
        return absl::OkStatus();
      case State::kTopKey:
        if (e.type == Event::Type::kEndObject) {
          state_ = State::kEnd;
          return absl::OkStatus();
        }
        key_ = std::string(e.text);
        state_ = State::kTopValue;
        return absl::OkStatus();
      case State::kTopValue:
        return TopValue(e);
      case State::kSkip:
        if (e.type == Event::Type::kStartObject || e.type == Event::Type::kStartArray) ++skip_depth_;
        if (e.type == Event::Type::kEndObject || e.type == Event::Type::kEndArray) --skip_depth_;
        if (skip_depth_ == 0) state_ = return_state_;
        return absl::OkStatus();
      case State::kInstancesFirst:
        return InstancesFirst(e);
      case State::kRowSingle:
        RETURN_IF_ERROR(ToColumn(columns_[0], e));
        if (columns_[0].ValueDoneAt(0)) state_ = State::kTopKey;
        return absl::OkStatus();
      case State::kRowInstance:
        return RowInstance(e);
      case State::kRowKey:
        return RowKey(e);
      case State::kRowValue:
        RETURN_IF_ERROR(ToColumn(columns_[current_], e));
        if (columns_[current_].ValueDoneAt(1)) state_ = State::kRowKey;
        return absl::OkStatus();
      case State::kInputsFirstKey:
        return InputsFirstKey(e);
      case State::kColumnarSingle:
        RETURN_IF_ERROR(ToColumn(columns_[0], e));
        if (columns_[0].ValueDoneAt(0)) state_ = State::kTopKey;
        return absl::OkStatus();
      case State::kColumnarKey:
        return ColumnarKey(e);
      case State::kColumnarValue:
        RETURN_IF_ERROR(ToColumn(columns_[current_], e));
        if (columns_[current_].ValueDoneAt(0)) state_ = State::kColumnarKey;
        return absl::OkStatus();
      case State::kEnd:
        return absl::InvalidArgumentError("JSON Parse error: content after the request object");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<JsonPredictRequest> Finish() {
    if (!has_instances_ && !has_inputs_) return absl::InvalidArgumentError("Missing 'inputs' or 'instances' key");
    JsonPredictRequest request;
    request.format = has_instances_ ? JsonFormat::kRow : JsonFormat::kColumnar;
    if (has_inputs_ && named_) {
      std::vector<std::string> missing;
      for (size_t i = 0; i < columns_.size(); ++i) {
        if (seen_[i] < 0) missing.push_back(columns_[i].name());
      }
      if (!missing.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Missing named input: ", absl::StrJoin(missing, ","), " in 'inputs' object."));
      }
    }
    for (auto& c : columns_) {
      ASSIGN_OR_RETURN(Tensor t, c.Finish());
      request.inputs.emplace_back(c.name(), std::move(t));
    }
    return request;
  }

 private:
  enum class State {
    kStart, kTopKey, kTopValue, kSkip, kInstancesFirst, kRowSingle, kRowInstance, kRowKey, kRowValue,
    kInputsFirstKey, kColumnarSingle, kColumnarKey, kColumnarValue, kEnd
  };

  absl::Status Skip(const Event& e, State then) {
    return_state_ = then;
    skip_depth_ = 0;
    state_ = State::kSkip;
    return OnEvent(e);
  }

  absl::Status TopValue(const Event& e) {
    if (key_ == kSignatureKey) {
      if (e.type != Event::Type::kString) {
        return absl::InvalidArgumentError(
            "JSON Value not formatted correctly. 'signature_name' key must be a string value.");
      }
      state_ = State::kTopKey;
      return absl::OkStatus();
    }
    if (key_ == kInstancesKey || key_ == kInputsKey) {
      if (has_instances_ || has_inputs_) {
        return absl::InvalidArgumentError(
            "JSON Value: request body Not formatted correctly expecting only one of 'inputs' or 'instances' keys "
            "to exist ");
      }
      if (columns_.empty()) return absl::InvalidArgumentError("Failed to get input map for signature");
    }
    if (key_ == kInstancesKey) {
      has_instances_ = true;
      if (e.type != Event::Type::kStartArray) {
        return absl::InvalidArgumentError("JSON Value: request body Excepting 'instances' to be an list/array");
      }
      state_ = State::kInstancesFirst;
      return absl::OkStatus();
    }
    if (key_ == kInputsKey) {
      has_inputs_ = true;
      if (e.type == Event::Type::kStartObject) {
        state_ = State::kInputsFirstKey;
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(RequireSingle("inputs is a plain value/list, but expecting an object as multiple input "
                                    "tensors required as per tensorinfo_map"));
      state_ = State::kColumnarSingle;
      return OnEvent(e);
    }
    return Skip(e, State::kTopKey);
  }

  absl::Status RequireSingle(const char* message) const {
    if (columns_.size() > 1) return absl::InvalidArgumentError(message);
    return absl::OkStatus();
  }

  absl::Status InstancesFirst(const Event& e) {
    if (pending_object_) {
      // The first element is an object: {"b64": ...} for a single DT_STRING input, else named
      // inputs.
      pending_object_ = false;
      if (e.type == Event::Type::kKey && e.text == kBase64Key && columns_.size() == 1) {
        RETURN_IF_ERROR(columns_[0].StartArray());
        RETURN_IF_ERROR(columns_[0].StartObject());
        state_ = State::kRowSingle;
        return columns_[0].Key(e.text);
      }
      named_ = true;
      for (auto& c : columns_) RETURN_IF_ERROR(c.StartArray());
      instance_ = 0;
      state_ = State::kRowKey;
      return OnEvent(e);
    }
    if (e.type == Event::Type::kEndArray) return absl::InvalidArgumentError("JSON Value: request body No values in 'instances' array");
    if (e.type == Event::Type::kStartObject) {
      pending_object_ = true;
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(RequireSingle("instances is a plain list, but expecting list of objects as multiple input "
                                  "tensors required as per tensorinfo_map"));
    RETURN_IF_ERROR(columns_[0].StartArray());
    state_ = State::kRowSingle;
    return OnEvent(e);
  }

  // Between instances of named row format.
  absl::Status RowInstance(const Event& e) {
    if (e.type == Event::Type::kEndArray) {
      for (auto& c : columns_) RETURN_IF_ERROR(c.EndArray());
      state_ = State::kTopKey;
      return absl::OkStatus();
    }
    if (e.type != Event::Type::kStartObject) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expecting object but got list at item ", instance_, " of input list"));
    }
    state_ = State::kRowKey;
    return absl::OkStatus();
  }

  absl::Status RowKey(const Event& e) {
    if (e.type == Event::Type::kEndObject) {
      std::vector<std::string> missing;
      for (size_t i = 0; i < columns_.size(); ++i) {
        if (seen_[i] != instance_) missing.push_back(columns_[i].name());
      }
      if (!missing.empty()) {
        std::vector<std::string> names;
        for (const auto& c : columns_) names.push_back(c.name());
        return absl::InvalidArgumentError(absl::StrCat("Failed to process element: ", instance_,
                                                       " of 'instances' list. JSON object is missing: ",
                                                       absl::StrJoin(missing, ","), "; keys must be equal to: ",
                                                       absl::StrJoin(names, ",")));
      }
      ++instance_;
      state_ = State::kRowInstance;
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(current_, FindColumn(e.text, "JSON object: does not have named input: "));
    if (seen_[current_] == instance_) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to process element: ", instance_, " key: ", e.text, " of 'instances' list. "
                       "Error: the key is given twice"));
    }
    seen_[current_] = instance_;
    state_ = State::kRowValue;
    return absl::OkStatus();
  }

  absl::Status InputsFirstKey(const Event& e) {
    if (e.type == Event::Type::kKey && e.text == kBase64Key && columns_.size() == 1 &&
        columns_[0].name() != kBase64Key) {
      RETURN_IF_ERROR(columns_[0].StartObject());
      state_ = State::kColumnarSingle;
      return columns_[0].Key(e.text);
    }
    named_ = true;
    state_ = State::kColumnarKey;
    return OnEvent(e);
  }

  absl::Status ColumnarKey(const Event& e) {
    if (e.type == Event::Type::kEndObject) {
      state_ = State::kTopKey;
      return absl::OkStatus();
    }
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i].name() == e.text) {
        if (seen_[i] >= 0) {
          return absl::InvalidArgumentError(absl::StrCat("input \"", e.text, "\" is given twice in 'inputs'"));
        }
        seen_[i] = 0;
        current_ = i;
        state_ = State::kColumnarValue;
        return absl::OkStatus();
      }
    }
    // TensorFlow Serving ignores keys of "inputs" that the signature does not name.
    return_state_ = State::kColumnarKey;
    skip_depth_ = 0;
    state_ = State::kSkip;
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> FindColumn(absl::string_view name, const char* message) const {
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i].name() == name) return i;
    }
    std::vector<std::string> names;
    for (const auto& c : columns_) names.push_back(c.name());
    return absl::InvalidArgumentError(
        absl::StrCat(message, name, "; the signature's inputs are {", absl::StrJoin(names, ","), "}"));
  }

  std::vector<Column> columns_;
  std::vector<int64_t> seen_;  // per column: the last instance (row) or 0 (columnar) that gave it
  State state_ = State::kStart;
  State return_state_ = State::kTopKey;
  int skip_depth_ = 0;
  std::string key_;
  bool has_instances_ = false;
  bool has_inputs_ = false;
  bool named_ = false;
  bool pending_object_ = false;
  int64_t instance_ = 0;
  size_t current_ = 0;
};

// ---- writing ----

template <typename T>
void AppendInteger(T v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

template <typename T>
void AppendDecimal(T v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  const size_t start = out->size();
  out->append(buf, end);
  // TensorFlow Serving writes whole numbers with ".0", so that a list of floats never reads as
  // integers.
  if (out->find_first_of(".e", start) == std::string::npos) out->append(".0");
}

void AppendElement(const Tensor& t, bool as_bytes, int64_t i, std::string* out) {
  switch (t.dtype()) {
    case DataType::kFloat:
      AppendDecimal(t.data<float>()[i], out);
      break;
    case DataType::kDouble:
      AppendDecimal(t.data<double>()[i], out);
      break;
    case DataType::kInt8:
      AppendInteger(static_cast<int>(t.data<int8_t>()[i]), out);
      break;
    case DataType::kInt16:
      AppendInteger(static_cast<int>(t.data<int16_t>()[i]), out);
      break;
    case DataType::kInt32:
      AppendInteger(t.data<int32_t>()[i], out);
      break;
    case DataType::kInt64:
      AppendInteger(t.data<int64_t>()[i], out);
      break;
    case DataType::kUInt8:
      AppendInteger(static_cast<unsigned>(t.data<uint8_t>()[i]), out);
      break;
    case DataType::kUInt16:
      AppendInteger(static_cast<unsigned>(t.data<uint16_t>()[i]), out);
      break;
    case DataType::kUInt32:
      AppendInteger(t.data<uint32_t>()[i], out);
      break;
    case DataType::kUInt64:
      AppendInteger(t.data<uint64_t>()[i], out);
      break;
    case DataType::kBool:
      out->append(t.data<bool>()[i] ? "true" : "false");
      break;
    case DataType::kString:
      if (as_bytes) {
        out->append("{\"b64\": \"");
        out->append(absl::Base64Escape(t.data<std::string>()[i]));
        out->append("\"}");
      } else {
        AppendJsonString(t.data<std::string>()[i], out);
      }
      break;
    default:
      break;
  }
}

bool JsonWritable(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat:
    case DataType::kDouble:
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUInt8:
    case DataType::kUInt16:
    case DataType::kUInt32:
    case DataType::kUInt64:
    case DataType::kBool:
    case DataType::kString:
      return true;
    default:
      return false;
  }
}

// Writes dims [dim, rank) of the elements starting at *offset.
void AppendNested(const Tensor& t, bool as_bytes, int dim, int64_t* offset, std::string* out) {
  if (dim >= t.rank()) {
    AppendElement(t, as_bytes, (*offset)++, out);
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < t.dim(dim); ++i) {
    if (i > 0) out->push_back(',');
    AppendNested(t, as_bytes, dim + 1, offset, out);
  }
  out->push_back(']');
}

bool IsBytesName(const std::string& name, const Tensor& t) {
  return t.dtype() == DataType::kString && absl::EndsWith(name, kBytesSuffix);
}

// ---- classify / regress ----

const char* JsonTypeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "Null";
    case rapidjson::kFalseType:
      return "False";
    case rapidjson::kTrueType:
      return "True";
    case rapidjson::kObjectType:
      return "Object";
    case rapidjson::kArrayType:
      return "Array";
    case rapidjson::kStringType:
      return "String";
    case rapidjson::kNumberType:
      return "Number";
  }
  return "";
}

bool IsBase64Object(const rapidjson::Value& v) {
  if (!v.IsObject() || v.MemberCount() != 1) return false;
  auto it = v.FindMember(kBase64Key);
  return it != v.MemberEnd() && it->value.IsString();
}

absl::Status FeatureKindError(const std::string& name, const tensorflow::Feature& f) {
  const char* kind = "UNKNOWN";
  switch (f.kind_case()) {
    case tensorflow::Feature::kBytesList:
      kind = "bytes";
      break;
    case tensorflow::Feature::kFloatList:
      kind = "float";
      break;
    case tensorflow::Feature::kInt64List:
      kind = "int64";
      break;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Unexpected element type in feature: ", name, " expecting type: ", kind));
}

bool KindIs(const tensorflow::Feature& f, tensorflow::Feature::KindCase kind) {
  return f.kind_case() == tensorflow::Feature::KIND_NOT_SET || f.kind_case() == kind;
}

absl::Status AddFeatureValue(const rapidjson::Value& v, const std::string& name, tensorflow::Feature* f) {
  using tensorflow::Feature;
  auto unexpected = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("Feature: ", name, " has element with unexpected JSON type: ", JsonTypeName(v)));
  };
  switch (v.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kArrayType:
      return unexpected();
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      if (!KindIs(*f, Feature::kInt64List)) return FeatureKindError(name, *f);
      f->mutable_int64_list()->add_value(v.GetBool() ? 1 : 0);
      return absl::OkStatus();
    case rapidjson::kObjectType: {
      if (!IsBase64Object(v)) return unexpected();
      if (!KindIs(*f, Feature::kBytesList)) return FeatureKindError(name, *f);
      const auto& s = v[kBase64Key];
      if (!absl::Base64Unescape(absl::string_view(s.GetString(), s.GetStringLength()),
                                f->mutable_bytes_list()->add_value())) {
        return absl::InvalidArgumentError("Unable to base64 decode");
      }
      return absl::OkStatus();
    }
    case rapidjson::kStringType:
      if (!KindIs(*f, Feature::kBytesList)) return FeatureKindError(name, *f);
      f->mutable_bytes_list()->add_value(v.GetString(), v.GetStringLength());
      return absl::OkStatus();
    case rapidjson::kNumberType:
      if (v.IsDouble()) {
        if (!KindIs(*f, Feature::kFloatList)) return FeatureKindError(name, *f);
        const double d = v.GetDouble();
        if (std::isfinite(d) && (d > std::numeric_limits<float>::max() || d < -std::numeric_limits<float>::max())) {
          std::string text;
          AppendJsonDouble(d, &text);
          return absl::InvalidArgumentError(
              absl::StrCat("Cannot convert JSON value: ", text, " to float without loss of precision."));
        }
        f->mutable_float_list()->add_value(static_cast<float>(d));
      } else {
        if (!KindIs(*f, Feature::kInt64List)) return FeatureKindError(name, *f);
        if (!v.IsInt64()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Feature: ", name, " has uint64 element. Only int64 is supported."));
        }
        f->mutable_int64_list()->add_value(v.GetInt64());
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status ExampleFromJson(const rapidjson::Value& v, tensorflow::Example* example) {
  if (!v.IsObject()) {
    return absl::InvalidArgumentError(absl::StrCat("Example must be JSON object but got JSON ", JsonTypeName(v)));
  }
  auto& features = *example->mutable_features()->mutable_feature();
  for (const auto& m : v.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    tensorflow::Feature feature;
    if (m.value.IsArray()) {
      for (const auto& e : m.value.GetArray()) RETURN_IF_ERROR(AddFeatureValue(e, name, &feature));
    } else {
      RETURN_IF_ERROR(AddFeatureValue(m.value, name, &feature));
    }
    features[name] = std::move(feature);
  }
  return absl::OkStatus();
}

// ---- KServe v2 ----

// Reads the structure of an infer request and records where each input's "data" array lies,
// skipping its values.
class KServeScanner : public SaxAdapter<KServeScanner> {
 public:
  explicit KServeScanner(absl::string_view json, const rapidjson::MemoryStream* stream)
      : json_(json), stream_(stream) {}
  bool done() const { return false; }
  KServeJsonRequest request;

  absl::Status OnEvent(const Event& e) {
    if (skip_depth_ > 0) {
      if (e.type == Event::Type::kStartArray || e.type == Event::Type::kStartObject) ++skip_depth_;
      if (e.type == Event::Type::kEndArray || e.type == Event::Type::kEndObject) {
        if (--skip_depth_ == 0) {
          // The iterative reader reports the end before it consumes the ']'.
          const size_t end = stream_->Tell() + 1;
          if (end > json_.size() || json_[end - 1] != ']') return absl::InternalError("lost track of \"data\"");
          request.inputs.back().data = json_.substr(data_start_, end - data_start_);
          ValueDone();
        }
      }
      return absl::OkStatus();
    }
    if (frames_.empty()) {
      if (e.type != Event::Type::kStartObject) return absl::InvalidArgumentError("the inference request is not a JSON object");
      frames_.push_back({false, "", 0});
      return absl::OkStatus();
    }
    if (e.type == Event::Type::kKey) {
      frames_.back().key = std::string(e.text);
      return absl::OkStatus();
    }
    if (e.type == Event::Type::kEndObject || e.type == Event::Type::kEndArray) {
      frames_.pop_back();
      ValueDone();
      return absl::OkStatus();
    }
    const std::string path = Path();
    if (path == "inputs/#/data") {
      if (e.type != Event::Type::kStartArray) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", request.inputs.back().name, "\": \"data\" must be a list"));
      }
      data_start_ = stream_->Tell();
      if (data_start_ >= json_.size() || json_[data_start_] != '[') return absl::InternalError("lost track of \"data\"");
      skip_depth_ = 1;
      return absl::OkStatus();
    }
    if (e.type == Event::Type::kStartObject || e.type == Event::Type::kStartArray) {
      if (path == "inputs/#" && e.type == Event::Type::kStartObject) request.inputs.emplace_back();
      if (path == "outputs/#" && e.type == Event::Type::kStartObject) request.outputs.emplace_back();
      if ((path == "inputs/#" || path == "outputs/#") && e.type != Event::Type::kStartObject) {
        return absl::InvalidArgumentError(absl::StrCat("every element of \"", path.substr(0, path.find('/')), "\" must be an object"));
      }
      frames_.push_back({e.type == Event::Type::kStartArray, "", 0});
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(Scalar(path, e));
    ValueDone();
    return absl::OkStatus();
  }

 private:
  struct Frame {
    bool array;
    std::string key;
    int64_t index;
  };

  // "inputs/#/shape/#": the keys from the top, '#' for list positions.
  std::string Path() const {
    std::string path;
    for (size_t i = 0; i < frames_.size(); ++i) {
      if (i > 0) path.push_back('/');
      if (frames_[i].array) {
        path.push_back('#');
      } else {
        path.append(frames_[i].key);
      }
    }
    return path;
  }

  void ValueDone() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }

  absl::Status Scalar(const std::string& path, const Event& e) {
    auto want = [&](Event::Type type, const char* what) -> absl::Status {
      if (e.type == type) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" must be ", what));
    };
    auto integer = [&](int64_t* out) -> absl::Status {
      if (e.type != Event::Type::kNumber || e.number.kind != Number::Kind::kInt || e.number.i < 0) {
        return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" must be a non-negative integer"));
      }
      *out = e.number.i;
      return absl::OkStatus();
    };
    if (path == "id") {
      RETURN_IF_ERROR(want(Event::Type::kString, "a string"));
      request.has_id = true;
      request.id = std::string(e.text);
    } else if (path == "parameters/signature_name") {
      RETURN_IF_ERROR(want(Event::Type::kString, "a string"));
      request.signature_name = std::string(e.text);
    } else if (path == "parameters/binary_data_output") {
      RETURN_IF_ERROR(want(Event::Type::kBool, "true or false"));
      request.binary_data_output = e.b;
    } else if (path == "inputs/#/name") {
      RETURN_IF_ERROR(want(Event::Type::kString, "a string"));
      request.inputs.back().name = std::string(e.text);
    } else if (path == "inputs/#/datatype") {
      RETURN_IF_ERROR(want(Event::Type::kString, "a string"));
      request.inputs.back().datatype = std::string(e.text);
    } else if (path == "inputs/#/shape/#") {
      int64_t d = 0;
      RETURN_IF_ERROR(integer(&d));
      request.inputs.back().shape.push_back(d);
    } else if (path == "inputs/#/parameters/binary_data_size") {
      int64_t n = 0;
      RETURN_IF_ERROR(integer(&n));
      request.inputs.back().has_binary_size = true;
      request.inputs.back().binary_size = static_cast<uint64_t>(n);
    } else if (path == "outputs/#/name") {
      RETURN_IF_ERROR(want(Event::Type::kString, "a string"));
      request.outputs.back().name = std::string(e.text);
    } else if (path == "outputs/#/parameters/binary_data") {
      RETURN_IF_ERROR(want(Event::Type::kBool, "true or false"));
      request.outputs.back().binary = e.b ? 1 : 0;
    }
    return absl::OkStatus();
  }

  absl::string_view json_;
  const rapidjson::MemoryStream* stream_;
  std::vector<Frame> frames_;
  int skip_depth_ = 0;
  size_t data_start_ = 0;
};

// Feeds one JSON value into a Column.
class ValueParser : public SaxAdapter<ValueParser> {
 public:
  explicit ValueParser(Column* column) : column_(column) {}
  bool done() const { return false; }
  absl::Status OnEvent(const Event& e) { return ToColumn(*column_, e); }

 private:
  Column* column_;
};

}  // namespace

absl::StatusOr<KServeJsonRequest> ParseKServeInferJson(absl::string_view json) {
  if (json.empty()) return absl::InvalidArgumentError("JSON Parse error: The document is empty");
  rapidjson::MemoryStream stream(json.data(), json.size());
  KServeScanner scanner(json, &stream);
  rapidjson::Reader reader;
  rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, scanner);
  if (!scanner.status().ok()) return scanner.status();
  if (result.IsError()) {
    return absl::InvalidArgumentError(absl::StrCat("JSON Parse error: ", rapidjson::GetParseError_En(result.Code()),
                                                   " at offset: ", result.Offset()));
  }
  return std::move(scanner.request);
}

absl::StatusOr<int64_t> ElementCount(const std::vector<int64_t>& shape, const std::string& name) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", name, "\": shape [", absl::StrJoin(shape, ","),
                                                     "] has a negative dimension or too many elements"));
    }
    n *= d;
  }
  return n;
}

absl::StatusOr<Tensor> KServeJsonTensor(const KServeJsonInput& input, DataType dtype, int64_t max_elements) {
  RETURN_IF_ERROR(ElementCount(input.shape, input.name).status());
  loader::TensorBinding binding;
  binding.alias = input.name;
  binding.dtype = dtype;
  Column column(&binding, max_elements);
  ValueParser parser(&column);
  absl::Status status = RunSax(input.data, parser, /*stop_early=*/false);
  if (!status.ok()) return Annotate(status, absl::StrCat("input \"", input.name, "\""));
  ASSIGN_OR_RETURN(Tensor t, column.Finish());
  Shape shape;
  for (int64_t d : input.shape) shape.AddDim(d);
  if (shape.num_elements() != t.num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", input.name, "\": expected ", shape.num_elements(),
                                                   " values in \"data\" for shape ", shape.DebugString(), ", got ",
                                                   t.num_elements()));
  }
  return t.Reshaped(shape);
}

absl::StatusOr<std::string> JsonSignatureName(absl::string_view json) {
  SignatureScanner scanner;
  RETURN_IF_ERROR(RunSax(json, scanner, /*stop_early=*/true));
  return scanner.signature_;
}

absl::StatusOr<JsonPredictRequest> ParseJsonPredictRequest(absl::string_view json,
                                                           const std::vector<loader::TensorBinding>& inputs,
                                                           int64_t max_elements) {
  PredictParser parser(inputs, max_elements);
  RETURN_IF_ERROR(RunSax(json, parser, /*stop_early=*/false));
  return parser.Finish();
}

absl::StatusOr<std::string> WriteJsonPredictResponse(const loader::NamedTensors& outputs, JsonFormat format) {
  if (outputs.empty()) return absl::InvalidArgumentError("Cannot convert empty tensor map to JSON");
  size_t estimate = 32;
  for (const auto& [name, t] : outputs) {
    if (!JsonWritable(t.dtype())) {
      return absl::InvalidArgumentError(absl::StrCat("output \"", name, "\": Failed to write JSON value for tensor type: ",
                                                     TypeString(t.dtype())));
    }
    estimate += name.size() + 16 * static_cast<size_t>(t.num_elements());
  }
  std::string out;
  out.reserve(estimate);
  const bool named = outputs.size() > 1;
  if (format == JsonFormat::kColumnar) {
    out.append("{\"outputs\":");
    if (named) out.push_back('{');
    bool first = true;
    for (const auto& [name, t] : outputs) {
      if (named) {
        if (!first) out.push_back(',');
        AppendJsonString(name, &out);
        out.push_back(':');
      }
      first = false;
      int64_t offset = 0;
      AppendNested(t, IsBytesName(name, t), 0, &offset, &out);
    }
    if (named) out.push_back('}');
    out.push_back('}');
    return out;
  }
  int64_t batch = -1;
  for (const auto& [name, t] : outputs) {
    if (t.rank() == 0) return absl::InvalidArgumentError(absl::StrCat("Tensor name: ", name, " has no shape information "));
    if (batch >= 0 && t.dim(0) != batch) {
      return absl::InvalidArgumentError(
          absl::StrCat("Tensor name: ", name, " has inconsistent batch size: ", t.dim(0), " expecting: ", batch));
    }
    batch = t.dim(0);
  }
  out.append("{\"predictions\":[");
  std::vector<int64_t> offsets(outputs.size(), 0);
  for (int64_t item = 0; item < batch; ++item) {
    if (item > 0) out.push_back(',');
    if (named) out.push_back('{');
    for (size_t k = 0; k < outputs.size(); ++k) {
      const auto& [name, t] = outputs[k];
      if (named) {
        if (k > 0) out.push_back(',');
        AppendJsonString(name, &out);
        out.push_back(':');
      }
      AppendNested(t, IsBytesName(name, t), 1, &offsets[k], &out);
    }
    if (named) out.push_back('}');
  }
  out.append("]}");
  return out;
}

absl::Status ParseJsonExamplesRequest(absl::string_view json, std::string* signature_name,
                                      tensorflow::serving::Input* input) {
  if (json.empty()) return absl::InvalidArgumentError("JSON Parse error: The document is empty");
  rapidjson::Document doc;
  rapidjson::MemoryStream stream(json.data(), json.size());
  doc.ParseStream<kParseFlags>(stream);
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat("JSON Parse error: ", rapidjson::GetParseError_En(doc.GetParseError()),
                                                   " at offset: ", doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return absl::InvalidArgumentError("JSON Value: request body Is not object");
  if (auto it = doc.FindMember(kSignatureKey); it != doc.MemberEnd()) {
    if (!it->value.IsString()) {
      return absl::InvalidArgumentError(
          "JSON Value not formatted correctly. 'signature_name' key must be a string value.");
    }
    signature_name->assign(it->value.GetString(), it->value.GetStringLength());
  }
  bool has_context = false;
  if (auto it = doc.FindMember(kContextKey); it != doc.MemberEnd()) {
    RETURN_IF_ERROR(ExampleFromJson(it->value, input->mutable_example_list_with_context()->mutable_context()));
    has_context = true;
  }
  auto it = doc.FindMember(kExamplesKey);
  if (it == doc.MemberEnd()) {
    return absl::InvalidArgumentError(
        "JSON Value: request body When method is classify, key 'examples' is expected and was not found");
  }
  if (!it->value.IsArray()) {
    return absl::InvalidArgumentError("JSON Value: request body Expecting 'examples' value to be an list/array");
  }
  if (it->value.Empty()) return absl::InvalidArgumentError("JSON Value: request body 'examples' value is an empty array");
  for (const auto& e : it->value.GetArray()) {
    RETURN_IF_ERROR(ExampleFromJson(e, has_context ? input->mutable_example_list_with_context()->add_examples()
                                                   : input->mutable_example_list()->add_examples()));
  }
  return absl::OkStatus();
}

std::string WriteJsonClassificationResult(const tensorflow::serving::ClassificationResult& result) {
  std::string out = "{\"results\":[";
  for (int i = 0; i < result.classifications_size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('[');
    const auto& classes = result.classifications(i).classes();
    for (int c = 0; c < classes.size(); ++c) {
      if (c > 0) out.push_back(',');
      out.push_back('[');
      AppendJsonString(classes[c].label(), &out);
      out.push_back(',');
      AppendJsonFloat(classes[c].score(), &out);
      out.push_back(']');
    }
    out.push_back(']');
  }
  out.append("]}");
  return out;
}

std::string WriteJsonRegressionResult(const tensorflow::serving::RegressionResult& result) {
  std::string out = "{\"results\":[";
  for (int i = 0; i < result.regressions_size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonFloat(result.regressions(i).value(), &out);
  }
  out.append("]}");
  return out;
}

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonFloat(float v, std::string* out) { AppendDecimal(v, out); }
void AppendJsonDouble(double v, std::string* out) { AppendDecimal(v, out); }

absl::Status AppendJsonTensor(const Tensor& t, bool as_bytes, bool flat, std::string* out) {
  if (!JsonWritable(t.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat("no JSON form for tensor type ", TypeString(t.dtype())));
  }
  if (flat) {
    out->push_back('[');
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (i > 0) out->push_back(',');
      AppendElement(t, as_bytes, i, out);
    }
    out->push_back(']');
    return absl::OkStatus();
  }
  int64_t offset = 0;
  AppendNested(t, as_bytes, 0, &offset, out);
  return absl::OkStatus();
}

}  // namespace savant::server
