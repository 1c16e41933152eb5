// Checkpoint I/O ops as a serving engine needs them: the restore ops read through
// RunOptions::restore (the loader supplies it; the engine knows nothing of files), the filename
// helpers that a saver graph computes its paths with, and the save ops, registered only so that
// graphs containing them load (they are pruned from serving paths and fail if ever run).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {
namespace {

absl::StatusOr<std::string> StringScalar(const KernelContext& ctx, int i, absl::string_view what) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DataType::kString || t.num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", i, " (", what, "): expected a DT_STRING scalar, got ",
                     DataTypeName(t.dtype()), " ", t.shape().DebugString()));
  }
  return t.flat<std::string>()[0];
}

absl::StatusOr<int32_t> Int32Scalar(const KernelContext& ctx, int i, absl::string_view what) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DataType::kInt32 || t.num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", i, " (", what, "): expected a DT_INT32 scalar, got ",
                     DataTypeName(t.dtype()), " ", t.shape().DebugString()));
  }
  return t.flat<int32_t>()[0];
}

// Reads one tensor through the loader's callback and checks its dtype.
absl::StatusOr<Tensor> RestoreOne(const KernelContext& ctx, const std::string& prefix,
                                  const std::string& name, const std::string& slice,
                                  DataType dtype) {
  const auto& restore = ctx.run_options().restore;
  if (!restore) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot restore \"", name, "\" from \"", prefix,
        "\": no checkpoint reader was provided for this run (RunOptions::restore is unset)"));
  }
  ASSIGN_OR_RETURN(Tensor t, restore(prefix, name, slice, dtype));
  if (t.dtype() != dtype) {
    return absl::InvalidArgumentError(absl::StrCat("restored tensor \"", name, "\" from \"", prefix,
                                                   "\": expected ", DataTypeName(dtype), ", got ",
                                                   DataTypeName(t.dtype())));
  }
  return t;
}

class RestoreV2Kernel final : public OpKernel {
 public:
  explicit RestoreV2Kernel(std::vector<DataType> dtypes) : dtypes_(std::move(dtypes)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
    ASSIGN_OR_RETURN(std::string prefix, StringScalar(ctx, 0, "prefix"));
    const Tensor& names = ctx.input(1);
    const Tensor& slices = ctx.input(2);
    if (names.dtype() != DataType::kString || slices.dtype() != DataType::kString ||
        names.rank() != 1 || slices.rank() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor_names and shape_and_slices must be 1-D DT_STRING tensors, got ",
                       DataTypeName(names.dtype()), " ", names.shape().DebugString(), " and ",
                       DataTypeName(slices.dtype()), " ", slices.shape().DebugString()));
    }
    const int64_t n = names.num_elements();
    if (slices.num_elements() != n || static_cast<int64_t>(dtypes_.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor_names, shape_and_slices and attr dtypes must have the same length, got ", n, ", ",
          slices.num_elements(), " and ", dtypes_.size()));
    }
    if (ctx.num_outputs() < n) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", n, " outputs, got ", ctx.num_outputs()));
    }
    for (int64_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(Tensor t, RestoreOne(ctx, prefix, names.flat<std::string>()[i],
                                            slices.flat<std::string>()[i], dtypes_[i]));
      ctx.set_output(static_cast<int>(i), std::move(t));
    }
    return absl::OkStatus();
  }

 private:
  const std::vector<DataType> dtypes_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateRestoreV2(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(std::vector<DataType> dtypes, GetTypeListAttr(c.node(), "dtypes"));
  return std::make_unique<RestoreV2Kernel>(std::move(dtypes));
}

// Restore (file_pattern, tensor_name) and RestoreSlice (+ shape_and_slice): the TF1 savers.
class RestoreKernel final : public OpKernel {
 public:
  RestoreKernel(DataType dtype, bool sliced) : dtype_(dtype), sliced_(sliced) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, sliced_ ? 3 : 2));
    ASSIGN_OR_RETURN(std::string pattern, StringScalar(ctx, 0, "file_pattern"));
    ASSIGN_OR_RETURN(std::string name, StringScalar(ctx, 1, "tensor_name"));
    std::string slice;
    if (sliced_) {
      ASSIGN_OR_RETURN(slice, StringScalar(ctx, 2, "shape_and_slice"));
    }
    ASSIGN_OR_RETURN(Tensor t, RestoreOne(ctx, pattern, name, slice, dtype_));
    ctx.set_output(0, std::move(t));
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
  const bool sliced_;
};

template <bool kSliced>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateRestore(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dt"));
  return std::make_unique<RestoreKernel>(dtype, kSliced);
}

absl::Status ShardedFilename(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  ASSIGN_OR_RETURN(std::string basename, StringScalar(ctx, 0, "basename"));
  ASSIGN_OR_RETURN(int32_t shard, Int32Scalar(ctx, 1, "shard"));
  ASSIGN_OR_RETURN(int32_t num_shards, Int32Scalar(ctx, 2, "num_shards"));
  char suffix[48];
  std::snprintf(suffix, sizeof(suffix), "-%05d-of-%05d", shard, num_shards);
  ctx.allocate_output(0, DataType::kString, Shape{}).scalar<std::string>() = basename + suffix;
  return absl::OkStatus();
}

absl::Status ShardedFilespec(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  ASSIGN_OR_RETURN(std::string basename, StringScalar(ctx, 0, "basename"));
  ASSIGN_OR_RETURN(int32_t num_shards, Int32Scalar(ctx, 1, "num_shards"));
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix),
                "-?????"
                "-of-%05d",
                num_shards);
  ctx.allocate_output(0, DataType::kString, Shape{}).scalar<std::string>() = basename + suffix;
  return absl::OkStatus();
}

// Joins its inputs elementwise with the separator; scalars broadcast against the one shape that
// all non-scalar inputs share.
class StringJoinKernel final : public OpKernel {
 public:
  explicit StringJoinKernel(std::string separator) : separator_(std::move(separator)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int n = ctx.num_inputs();
    Shape shape;
    bool have_shape = false;
    for (int i = 0; i < n; ++i) {
      const Tensor& t = ctx.input(i);
      RETURN_IF_ERROR(ExpectInputDType(ctx, i, DataType::kString, "inputs"));
      if (t.rank() == 0) continue;
      if (!have_shape) {
        shape = t.shape();
        have_shape = true;
      } else if (t.shape() != shape) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Input shapes do not match: ", shape.DebugString(), " vs. ", t.shape().DebugString()));
      }
    }
    Tensor& out = ctx.allocate_output(0, DataType::kString, shape);
    auto o = out.flat<std::string>();
    for (int64_t j = 0; j < out.num_elements(); ++j) {
      std::string& s = o[j];
      for (int i = 0; i < n; ++i) {
        if (i > 0) s += separator_;
        const Tensor& t = ctx.input(i);
        s += t.flat<std::string>()[t.rank() == 0 ? 0 : j];
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string separator_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateStringJoin(const KernelConstruction& c) {
  return std::make_unique<StringJoinKernel>(GetStringAttrOr(c.node(), "separator", ""));
}

absl::Status SaveUnsupported(KernelContext&) {
  return absl::UnimplementedError("saving checkpoints is not supported by a serving engine");
}

}  // namespace

void RegisterIoOps(OpRegistry& registry) {
  registry.Add("MergeV2Checkpoints", {.compute = SaveUnsupported, .stateful = true});
  registry.Add("Restore", {.factory = CreateRestore<false>, .stateful = true});
  registry.Add("RestoreSlice", {.factory = CreateRestore<true>, .stateful = true});
  registry.Add("RestoreV2", {.factory = CreateRestoreV2, .stateful = true});
  registry.Add("Save", {.compute = SaveUnsupported, .stateful = true});
  registry.Add("SaveSlices", {.compute = SaveUnsupported, .stateful = true});
  registry.Add("SaveV2", {.compute = SaveUnsupported, .stateful = true});
  registry.Add("ShardedFilename", {.compute = ShardedFilename});
  registry.Add("ShardedFilespec", {.compute = ShardedFilespec});
  registry.Add("StringJoin", {.factory = CreateStringJoin});
}

}  // namespace savant::engine
