// ParseExample and ParseExampleV2: decode serialized tensorflow.Example protos into dense,
// sparse (COO) and ragged tensors, the input stage of TF Serving's Classify and Regress APIs and of
// many exported serving signatures. Semantics, shapes and error messages follow TensorFlow's
// ParseExampleOp (kernels/example_parsing_ops.cc) and FastParseExample
// (util/example_proto_fast_parsing.cc); the implementation is our own and uses the generated
// Example proto.
//
// Feature kinds: float_list -> DT_FLOAT, int64_list -> DT_INT64, bytes_list -> DT_STRING. A
// feature whose kind is not set counts as missing. Dense features have a fixed shape (missing ->
// the default, or an error when the default is empty) or, when the first dim of the shape is -1, a
// variable length padded with the default's single value. A scalar `serialized` (V2 only) gives
// outputs without the batch dim, as tf.io.parse_single_example does.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow/core/example/feature.pb.h"

namespace savant::engine {
namespace {

struct DenseConfig {
  DataType dtype = DataType::kInvalid;
  PartialShape shape;
  bool variable_length = false;
  int64_t stride = 1;  // elements per entry of the first dim (variable) or of the whole shape
};

DataType FeatureDType(const tensorflow::Feature& f) {
  switch (f.kind_case()) {
    case tensorflow::Feature::kFloatList:
      return DataType::kFloat;
    case tensorflow::Feature::kInt64List:
      return DataType::kInt64;
    case tensorflow::Feature::kBytesList:
      return DataType::kString;
    default:
      return DataType::kInvalid;
  }
}

int64_t FeatureSize(const tensorflow::Feature& f) {
  switch (f.kind_case()) {
    case tensorflow::Feature::kFloatList:
      return f.float_list().value_size();
    case tensorflow::Feature::kInt64List:
      return f.int64_list().value_size();
    case tensorflow::Feature::kBytesList:
      return f.bytes_list().value_size();
    default:
      return 0;
  }
}

// Copies the values of `f` (whose dtype matches out's) into `out` starting at element `offset`.
void CopyFeature(const tensorflow::Feature& f, Tensor& out, int64_t offset) {
  switch (out.dtype()) {
    case DataType::kFloat: {
      const auto& v = f.float_list().value();
      std::copy(v.begin(), v.end(), out.data<float>() + offset);
      break;
    }
    case DataType::kInt64: {
      const auto& v = f.int64_list().value();
      std::copy(v.begin(), v.end(), out.data<int64_t>() + offset);
      break;
    }
    case DataType::kString: {
      const auto& v = f.bytes_list().value();
      std::copy(v.begin(), v.end(), out.data<std::string>() + offset);
      break;
    }
    default:
      break;
  }
}

// Copies `count` elements of `src` starting at 0 into `out` at `offset` (defaults and padding).
void CopyDefault(const Tensor& src, int64_t count, Tensor& out, int64_t offset) {
  CopyElements(src, 0, out, offset, count);
}

void FillWithFirst(const Tensor& value, Tensor& out) {
  switch (out.dtype()) {
    case DataType::kFloat:
      std::fill_n(out.data<float>(), out.num_elements(), value.data<float>()[0]);
      break;
    case DataType::kInt64:
      std::fill_n(out.data<int64_t>(), out.num_elements(), value.data<int64_t>()[0]);
      break;
    case DataType::kString:
      std::fill_n(out.data<std::string>(), out.num_elements(), value.data<std::string>()[0]);
      break;
    default:
      break;
  }
}

absl::Status CheckFeatureType(DataType dtype, absl::string_view attr) {
  if (dtype == DataType::kFloat || dtype == DataType::kInt64 || dtype == DataType::kString) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("attr \"", attr, "\" has ", DataTypeName(dtype),
                                                 "; features must be DT_FLOAT, DT_INT64 or "
                                                 "DT_STRING"));
}

absl::string_view ValueTypeWord(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat:
      return "float";
    case DataType::kInt64:
      return "int64";
    default:
      return "bytes";
  }
}

// The parsed batch and how to name one of its examples in errors.
struct Batch {
  std::vector<tensorflow::Example> examples;
  const Tensor* names = nullptr;
  bool scalar = false;

  int64_t size() const { return static_cast<int64_t>(examples.size()); }
  std::string Name(int64_t e) const {
    return names->num_elements() > 0 ? names->flat<std::string>()[e] : "<unknown>";
  }
  // TensorFlow's prefix: "Name: n, Key: k, Index: i.  " for a batch, "Key: k.  " for one example.
  absl::Status Error(int64_t e, absl::string_view key, absl::string_view what) const {
    if (scalar) return absl::InvalidArgumentError(absl::StrCat("Key: ", key, ".  ", what));
    return absl::InvalidArgumentError(
        absl::StrCat("Name: ", Name(e), ", Key: ", key, ", Index: ", e, ".  ", what));
  }
  // The feature `key` of example e, or nullptr when absent or of no kind.
  const tensorflow::Feature* Find(int64_t e, const std::string& key) const {
    const auto& map = examples[e].features().feature();
    auto it = map.find(key);
    if (it == map.end() || it->second.kind_case() == tensorflow::Feature::KIND_NOT_SET) {
      return nullptr;
    }
    return &it->second;
  }
};

class ParseExampleKernel final : public OpKernel {
 public:
  ParseExampleKernel(int version, std::vector<DataType> sparse_types,
                     std::vector<DenseConfig> dense, std::vector<DataType> ragged_value_types,
                     std::vector<DataType> ragged_split_types)
      : version_(version),
        sparse_types_(std::move(sparse_types)),
        dense_(std::move(dense)),
        ragged_value_types_(std::move(ragged_value_types)),
        ragged_split_types_(std::move(ragged_split_types)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int num_sparse = static_cast<int>(sparse_types_.size());
    const int num_dense = static_cast<int>(dense_.size());
    const int num_ragged = static_cast<int>(ragged_value_types_.size());
    const int want_inputs = version_ == 1 ? 2 + num_sparse + 2 * num_dense : 5 + num_dense;
    if (ctx.num_inputs() != want_inputs) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", want_inputs, " inputs for the attrs, got ", ctx.num_inputs()));
    }
    const int want_outputs = 3 * num_sparse + num_dense + 2 * num_ragged;
    if (ctx.num_outputs() != want_outputs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected ", want_outputs, " outputs for the attrs, got ", ctx.num_outputs()));
    }

    // Keys and defaults.
    std::vector<std::string> sparse_keys, dense_keys, ragged_keys;
    std::vector<const Tensor*> defaults;
    if (version_ == 1) {
      for (int i = 0; i < num_sparse + num_dense; ++i) {
        const int input = 2 + i;
        RETURN_IF_ERROR(ExpectInputDType(ctx, input, DataType::kString, "key"));
        if (ctx.input(input).num_elements() != 1) {
          return absl::InvalidArgumentError(absl::StrCat("input ", input,
                                                         " (key): expected a scalar, got shape ",
                                                         ctx.input(input).shape().DebugString()));
        }
        (i < num_sparse ? sparse_keys : dense_keys)
            .push_back(ctx.input(input).flat<std::string>()[0]);
      }
      for (int d = 0; d < num_dense; ++d)
        defaults.push_back(&ctx.input(2 + num_sparse + num_dense + d));
    } else {
      RETURN_IF_ERROR(KeysFromTensor(ctx, 2, "sparse_keys", &sparse_keys));
      RETURN_IF_ERROR(KeysFromTensor(ctx, 3, "dense_keys", &dense_keys));
      RETURN_IF_ERROR(KeysFromTensor(ctx, 4, "ragged_keys", &ragged_keys));
      if (dense_keys.size() != dense_.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expected len(dense_keys) == len(dense_types) but got: ", dense_keys.size(), " vs. ",
            dense_.size()));
      }
      if (sparse_keys.size() != sparse_types_.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Expected len(sparse_keys) == num_sparse but got: ", sparse_keys.size(),
                         " vs. ", sparse_types_.size()));
      }
      if (ragged_keys.size() != ragged_value_types_.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expected len(ragged_keys) == len(ragged_value_types) but got: ", ragged_keys.size(),
            " vs. ", ragged_value_types_.size()));
      }
      for (int d = 0; d < num_dense; ++d) defaults.push_back(&ctx.input(5 + d));
    }

    // serialized and names.
    const Tensor& serialized = ctx.input(0);
    const Tensor& names = ctx.input(1);
    RETURN_IF_ERROR(ExpectInputDType(ctx, 0, DataType::kString, "serialized"));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 1, DataType::kString, "names"));
    if (version_ == 1 && serialized.rank() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Expected serialized to be a vector, got shape: ", serialized.shape().DebugString()));
    }
    if (version_ == 2 && serialized.rank() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expected serialized to be a scalar or vector, got shape: ",
                       serialized.shape().DebugString()));
    }
    if (names.num_elements() > 0 && names.shape() != serialized.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Expected names have the same shape as serialized: name.shape=",
          names.shape().DebugString(), ", serialized.shape=", serialized.shape().DebugString()));
    }
    RETURN_IF_ERROR(CheckDefaults(defaults));

    Batch batch;
    batch.names = &names;
    batch.scalar = serialized.rank() == 0;
    batch.examples.resize(serialized.num_elements());
    for (int64_t e = 0; e < batch.size(); ++e) {
      const std::string& bytes = serialized.flat<std::string>()[e];
      if (!batch.examples[e].ParseFromString(bytes)) {
        constexpr size_t kShown = 64;
        return absl::InvalidArgumentError(
            absl::StrCat("Could not parse example input, value: '",
                         absl::CHexEscape(absl::string_view(bytes).substr(0, kShown)),
                         bytes.size() > kShown ? "...'" : "'",
                         batch.scalar ? "" : absl::StrCat(" (index ", e, ")")));
      }
    }

    const int dense_out = 3 * num_sparse;
    const int ragged_out = dense_out + num_dense;
    for (int d = 0; d < num_dense; ++d) {
      RETURN_IF_ERROR(
          dense_[d].variable_length
              ? ParseVarLenDense(ctx, batch, d, dense_keys[d], *defaults[d], dense_out + d)
              : ParseFixedDense(ctx, batch, d, dense_keys[d], *defaults[d], dense_out + d));
    }
    for (int s = 0; s < num_sparse; ++s) {
      RETURN_IF_ERROR(ParseSparse(ctx, batch, sparse_keys[s], sparse_types_[s], s, num_sparse + s,
                                  2 * num_sparse + s));
    }
    for (int r = 0; r < num_ragged; ++r) {
      RETURN_IF_ERROR(ParseRagged(ctx, batch, ragged_keys[r], ragged_value_types_[r],
                                  ragged_split_types_[r], ragged_out + r,
                                  ragged_out + num_ragged + r));
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status KeysFromTensor(const KernelContext& ctx, int i, absl::string_view what,
                                     std::vector<std::string>* keys) {
    RETURN_IF_ERROR(ExpectInputDType(ctx, i, DataType::kString, what));
    for (const std::string& k : ctx.input(i).flat<std::string>()) keys->push_back(k);
    return absl::OkStatus();
  }

  absl::Status CheckDefaults(const std::vector<const Tensor*>& defaults) const {
    for (size_t d = 0; d < dense_.size(); ++d) {
      const Tensor& def = *defaults[d];
      if (dense_[d].variable_length) {
        if (def.num_elements() != 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "dense_shape[", d, "] is a variable length shape: ", dense_[d].shape.DebugString(),
              ", therefore def_value[", d,
              "] must contain a single element (the padding element).  But its shape is: ",
              def.shape().DebugString()));
        }
      } else if (def.num_elements() > 0 && (!dense_[d].shape.IsCompatibleWith(def.shape()) ||
                                            def.num_elements() != dense_[d].stride)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "def_value[", d, "].shape() == ", def.shape().DebugString(),
            " is not compatible with dense_shapes_[", d, "] == ", dense_[d].shape.DebugString()));
      }
      if (def.dtype() != dense_[d].dtype) {
        return absl::InvalidArgumentError(
            absl::StrCat("dense_defaults[", d, "].dtype() == ", TfTypeName(def.dtype()),
                         " != dense_types_[", d, "] == ", TfTypeName(dense_[d].dtype)));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseFixedDense(KernelContext& ctx, const Batch& batch, int d,
                               const std::string& key, const Tensor& def, int output) const {
    const DenseConfig& config = dense_[d];
    Shape shape;
    if (!batch.scalar) shape.AddDim(batch.size());
    for (int64_t dim : config.shape.dims()) shape.AddDim(dim);
    Tensor& out = ctx.allocate_output(output, config.dtype, shape);
    for (int64_t e = 0; e < batch.size(); ++e) {
      const tensorflow::Feature* f = batch.Find(e, key);
      if (f == nullptr) {
        if (def.num_elements() == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(batch.scalar ? "" : absl::StrCat("Name: ", batch.Name(e), ", "),
                           "Feature: ", key, " (data type: ", TfTypeName(config.dtype), ")",
                           " is required but could not be found."));
        }
        CopyDefault(def, config.stride, out, e * config.stride);
        continue;
      }
      const DataType got = FeatureDType(*f);
      if (got != config.dtype) {
        return batch.Error(e, key,
                           absl::StrCat("Data types don't match. Data type: ", TfTypeName(got),
                                        " but expected type: ", TfTypeName(config.dtype)));
      }
      const int64_t size = FeatureSize(*f);
      if (size != config.stride) {
        return batch.Error(e, key,
                           absl::StrCat("Number of ", ValueTypeWord(config.dtype),
                                        " values != expected.  Values size: ", size,
                                        " but output shape: ", config.shape.DebugString()));
      }
      CopyFeature(*f, out, e * config.stride);
    }
    return absl::OkStatus();
  }

  absl::Status ParseVarLenDense(KernelContext& ctx, const Batch& batch, int d,
                                const std::string& key, const Tensor& def, int output) const {
    const DenseConfig& config = dense_[d];
    std::vector<const tensorflow::Feature*> found(batch.size(), nullptr);
    int64_t max_size = 0;
    for (int64_t e = 0; e < batch.size(); ++e) {
      const tensorflow::Feature* f = batch.Find(e, key);
      if (f == nullptr) continue;
      const DataType got = FeatureDType(*f);
      if (got != config.dtype) {
        return batch.Error(e, key,
                           absl::StrCat("Data types don't match. Data type: ", TfTypeName(got),
                                        " but expected type: ", TfTypeName(config.dtype)));
      }
      const int64_t size = FeatureSize(*f);
      if (config.stride == 0 ? size != 0 : size % config.stride != 0) {
        return batch.Error(
            e, key,
            absl::StrCat("Number of ", ValueTypeWord(config.dtype),
                         " values is not a multiple of stride length. Saw ", size,
                         " values but output shape is: ", config.shape.DebugString()));
      }
      found[e] = f;
      max_size = std::max(max_size, size);
    }
    Shape shape;
    if (!batch.scalar) shape.AddDim(batch.size());
    shape.AddDim(config.stride == 0 ? 0 : max_size / config.stride);
    for (int i = 1; i < config.shape.rank(); ++i) shape.AddDim(config.shape.dim(i));
    Tensor& out = ctx.allocate_output(output, config.dtype, shape);
    if (out.num_elements() == 0) return absl::OkStatus();
    FillWithFirst(def, out);
    for (int64_t e = 0; e < batch.size(); ++e) {
      if (found[e] != nullptr) CopyFeature(*found[e], out, e * max_size);
    }
    return absl::OkStatus();
  }

  // Checks and collects one sparse or ragged feature over the batch.
  static absl::StatusOr<std::vector<const tensorflow::Feature*>> Collect(const Batch& batch,
                                                                         const std::string& key,
                                                                         DataType dtype,
                                                                         int64_t* total,
                                                                         int64_t* max_size) {
    std::vector<const tensorflow::Feature*> found(batch.size(), nullptr);
    *total = 0;
    *max_size = 0;
    for (int64_t e = 0; e < batch.size(); ++e) {
      const tensorflow::Feature* f = batch.Find(e, key);
      if (f == nullptr) continue;
      const DataType got = FeatureDType(*f);
      if (got != dtype) {
        return batch.Error(e, key,
                           absl::StrCat("Data types don't match. Expected type: ",
                                        TfTypeName(dtype), ", Actual type: ", TfTypeName(got)));
      }
      found[e] = f;
      *total += FeatureSize(*f);
      *max_size = std::max(*max_size, FeatureSize(*f));
    }
    return found;
  }

  absl::Status ParseSparse(KernelContext& ctx, const Batch& batch, const std::string& key,
                           DataType dtype, int indices_out, int values_out, int shape_out) const {
    int64_t total = 0;
    int64_t max_size = 0;
    ASSIGN_OR_RETURN(auto found, Collect(batch, key, dtype, &total, &max_size));
    const int64_t index_rank = batch.scalar ? 1 : 2;
    Tensor& indices = ctx.allocate_output(indices_out, DataType::kInt64, Shape{total, index_rank});
    Tensor& values = ctx.allocate_output(values_out, dtype, Shape{total});
    Tensor& shape = ctx.allocate_output(shape_out, DataType::kInt64, Shape{index_rank});
    if (batch.scalar) {
      shape.data<int64_t>()[0] = max_size;
    } else {
      shape.data<int64_t>()[0] = batch.size();
      shape.data<int64_t>()[1] = max_size;
    }
    int64_t* ix = indices.data<int64_t>();
    int64_t offset = 0;
    for (int64_t e = 0; e < batch.size(); ++e) {
      if (found[e] == nullptr) continue;
      const int64_t size = FeatureSize(*found[e]);
      for (int64_t j = 0; j < size; ++j) {
        if (!batch.scalar) *ix++ = e;
        *ix++ = j;
      }
      CopyFeature(*found[e], values, offset);
      offset += size;
    }
    return absl::OkStatus();
  }

  absl::Status ParseRagged(KernelContext& ctx, const Batch& batch, const std::string& key,
                           DataType dtype, DataType split_type, int values_out,
                           int splits_out) const {
    int64_t total = 0;
    int64_t max_size = 0;
    ASSIGN_OR_RETURN(auto found, Collect(batch, key, dtype, &total, &max_size));
    Tensor& values = ctx.allocate_output(values_out, dtype, Shape{total});
    // A single example's row splits are empty (unused), as in TensorFlow.
    const int64_t num_splits = batch.scalar ? 0 : batch.size() + 1;
    Tensor& splits = ctx.allocate_output(splits_out, split_type, Shape{num_splits});
    if (split_type == DataType::kInt32 && total > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("ragged feature \"", key, "\" has ", total,
                                                     " values, too many for DT_INT32 row splits"));
    }
    int64_t offset = 0;
    for (int64_t e = 0; e < batch.size(); ++e) {
      if (num_splits > 0) {
        if (split_type == DataType::kInt64) {
          splits.data<int64_t>()[e] = offset;
        } else {
          splits.data<int32_t>()[e] = static_cast<int32_t>(offset);
        }
      }
      if (found[e] == nullptr) continue;
      CopyFeature(*found[e], values, offset);
      offset += FeatureSize(*found[e]);
    }
    if (num_splits > 0) {
      if (split_type == DataType::kInt64) {
        splits.data<int64_t>()[batch.size()] = offset;
      } else {
        splits.data<int32_t>()[batch.size()] = static_cast<int32_t>(offset);
      }
    }
    return absl::OkStatus();
  }

  const int version_;
  const std::vector<DataType> sparse_types_;
  const std::vector<DenseConfig> dense_;
  const std::vector<DataType> ragged_value_types_;
  const std::vector<DataType> ragged_split_types_;
};

absl::StatusOr<std::vector<DataType>> TypeListOrEmpty(const Node& node, absl::string_view name) {
  if (FindAttr(node, name) == nullptr) return std::vector<DataType>();
  return GetTypeListAttr(node, name);
}

// ParseExampleAttrs::Init and GetDenseShapes of TensorFlow's example_proto_helper.cc.
template <int kVersion>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateParseExample(const KernelConstruction& c) {
  const Node& node = c.node();
  ASSIGN_OR_RETURN(std::vector<DataType> sparse_types, TypeListOrEmpty(node, "sparse_types"));
  ASSIGN_OR_RETURN(std::vector<DataType> dense_types, TypeListOrEmpty(node, "Tdense"));
  ASSIGN_OR_RETURN(std::vector<PartialShape> dense_shapes, GetShapeListAttr(node, "dense_shapes"));
  std::vector<DataType> ragged_value_types;
  std::vector<DataType> ragged_split_types;
  int64_t num_sparse = 0;
  int64_t num_dense = static_cast<int64_t>(dense_types.size());
  if (kVersion == 1) {
    ASSIGN_OR_RETURN(num_sparse, GetIntAttr(node, "Nsparse"));
    ASSIGN_OR_RETURN(num_dense, GetIntAttr(node, "Ndense"));
  } else {
    ASSIGN_OR_RETURN(num_sparse, GetIntAttr(node, "num_sparse"));
    ASSIGN_OR_RETURN(ragged_value_types, TypeListOrEmpty(node, "ragged_value_types"));
    ASSIGN_OR_RETURN(ragged_split_types, TypeListOrEmpty(node, "ragged_split_types"));
  }
  if (num_sparse != static_cast<int64_t>(sparse_types.size())) {
    return absl::InvalidArgumentError("len(sparse_keys) != len(sparse_types)");
  }
  if (num_dense != static_cast<int64_t>(dense_types.size())) {
    return absl::InvalidArgumentError("len(dense_keys) != len(dense_types)");
  }
  if (num_dense != static_cast<int64_t>(dense_shapes.size())) {
    return absl::InvalidArgumentError("len(dense_keys) != len(dense_shapes)");
  }
  if (ragged_value_types.size() != ragged_split_types.size()) {
    return absl::InvalidArgumentError("len(ragged_split_types) != len(ragged_value_types)");
  }
  for (DataType t : sparse_types) RETURN_IF_ERROR(CheckFeatureType(t, "sparse_types"));
  for (DataType t : dense_types) RETURN_IF_ERROR(CheckFeatureType(t, "Tdense"));
  for (DataType t : ragged_value_types) RETURN_IF_ERROR(CheckFeatureType(t, "ragged_value_types"));
  for (DataType t : ragged_split_types) {
    if (t != DataType::kInt32 && t != DataType::kInt64) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid ragged_split_type: ", TfTypeName(t)));
    }
  }
  std::vector<DenseConfig> dense(num_dense);
  for (int64_t d = 0; d < num_dense; ++d) {
    const PartialShape& shape = dense_shapes[d];
    bool ok = !shape.unknown_rank();
    for (int i = 1; ok && i < shape.rank(); ++i) ok = shape.dim(i) >= 0;
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("dense_shapes[", d,
                       "] has unknown rank or unknown inner dimensions: ", shape.DebugString()));
    }
    dense[d].dtype = dense_types[d];
    dense[d].shape = shape;
    dense[d].variable_length = shape.rank() > 0 && shape.dim(0) < 0;
    dense[d].stride = 1;
    for (int i = dense[d].variable_length ? 1 : 0; i < shape.rank(); ++i) {
      dense[d].stride *= shape.dim(i);
    }
  }
  return std::make_unique<ParseExampleKernel>(kVersion, std::move(sparse_types), std::move(dense),
                                              std::move(ragged_value_types),
                                              std::move(ragged_split_types));
}

}  // namespace

void RegisterParseExampleOps(OpRegistry& registry) {
  registry.Add("ParseExample", {.factory = CreateParseExample<1>});
  registry.Add("ParseExampleV2", {.factory = CreateParseExample<2>});
}

}  // namespace savant::engine
