// Variable ops, TF1 reference variables and TF2 resource variables alike. Both are Variables in
// the model's ResourceManager, reached through DT_RESOURCE handle tensors: a TF1 "ref" output
// (VariableV2:0, Assign:0) is such a handle, and the compiler inserts _ReadRef where a ref meets a
// value input. VariableV2 and VarHandleOp only find or create the Variable, so the compiler runs
// them once at load time (compile_time_handle). Updates are copy-on-write (Variable::Update), so a
// request reading a variable keeps a consistent snapshot while another assigns it.
#include <memory>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/resource_manager.h"

namespace savant::engine {
namespace {

// The Variable behind input `i`; INVALID_ARGUMENT when it is not a handle to a Variable.
absl::StatusOr<std::shared_ptr<Variable>> InputVariable(const KernelContext& ctx, int i) {
  if (ctx.num_inputs() <= i) {
    return absl::InvalidArgumentError(absl::StrCat("expected a variable handle as input ", i,
                                                   ", got ", ctx.num_inputs(), " inputs"));
  }
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DataType::kResource || t.num_elements() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("input ", i,
                                                   ": expected a DT_RESOURCE scalar handle to a "
                                                   "variable, got ",
                                                   DataTypeName(t.dtype()), " ",
                                                   t.shape().DebugString()));
  }
  const ResourceHandle& handle = t.data<ResourceHandle>()[0];
  auto var = std::dynamic_pointer_cast<Variable>(handle);
  if (var == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", i, ": the resource handle does not point to a variable (it holds ",
                     handle == nullptr ? std::string("nothing") : handle->DebugString(), ")"));
  }
  return var;
}

Tensor HandleTensor(std::shared_ptr<Resource> resource) {
  Tensor t(DataType::kResource, Shape{});
  t.scalar<ResourceHandle>() = std::move(resource);
  return t;
}

// Integer updates wrap like TensorFlow's on real machines, without signed-overflow UB.
template <typename T>
using WrapType =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T, bool kAdd>
void UpdateLoop(const Tensor& a, const Tensor& b, Tensor& out) {
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  T* o = out.data<T>();
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    if constexpr (std::is_integral_v<T>) {
      const auto u = static_cast<WrapType<T>>(x[i]);
      const auto v = static_cast<WrapType<T>>(y[i]);
      o[i] = static_cast<T>(kAdd ? u + v : u - v);
    } else {
      o[i] = kAdd ? x[i] + y[i] : x[i] - y[i];
    }
  }
}

// current +/- delta as a new tensor (copy-on-write). Shapes and dtypes must be equal.
template <bool kAdd>
absl::StatusOr<Tensor> AddOrSub(const Tensor& current, const Tensor& delta) {
  if (current.dtype() != delta.dtype()) {
    return absl::InvalidArgumentError(
        absl::StrCat("variable has dtype ", DataTypeName(current.dtype()), " but the update has ",
                     DataTypeName(delta.dtype())));
  }
  if (current.shape() != delta.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Cannot update variable with shape ", current.shape().DebugString(),
        " using a Tensor with shape ", delta.shape().DebugString(), ", shapes must be equal."));
  }
  Tensor out(current.dtype(), current.shape());
  switch (current.dtype()) {
    case DataType::kFloat:
      UpdateLoop<float, kAdd>(current, delta, out);
      break;
    case DataType::kDouble:
      UpdateLoop<double, kAdd>(current, delta, out);
      break;
    case DataType::kInt32:
      UpdateLoop<int32_t, kAdd>(current, delta, out);
      break;
    case DataType::kInt64:
      UpdateLoop<int64_t, kAdd>(current, delta, out);
      break;
    case DataType::kInt8:
      UpdateLoop<int8_t, kAdd>(current, delta, out);
      break;
    case DataType::kInt16:
      UpdateLoop<int16_t, kAdd>(current, delta, out);
      break;
    case DataType::kUInt8:
      UpdateLoop<uint8_t, kAdd>(current, delta, out);
      break;
    case DataType::kUInt16:
      UpdateLoop<uint16_t, kAdd>(current, delta, out);
      break;
    case DataType::kUInt32:
      UpdateLoop<uint32_t, kAdd>(current, delta, out);
      break;
    case DataType::kUInt64:
      UpdateLoop<uint64_t, kAdd>(current, delta, out);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          kAdd ? "AssignAdd" : "AssignSub", " does not support ", DataTypeName(current.dtype())));
  }
  return out;
}

// ---- Creating handles ----

// VariableV2, Variable and VarHandleOp: find or create the Variable named by shared_name (or the
// node name) in the container, and output its handle.
class VariableKernel final : public OpKernel {
 public:
  VariableKernel(std::string container, std::string name, DataType dtype, PartialShape shape)
      : container_(std::move(container)),
        name_(std::move(name)),
        dtype_(dtype),
        shape_(std::move(shape)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var,
                     ctx.resources().LookupOrCreate<Variable>(container_, name_, [this] {
                       return std::make_shared<Variable>(name_, dtype_, shape_);
                     }));
    if (var->dtype() != dtype_) {
      return absl::InvalidArgumentError(absl::StrCat("variable \"", name_, "\" exists with dtype ",
                                                     DataTypeName(var->dtype()), ", expected ",
                                                     DataTypeName(dtype_)));
    }
    ctx.set_output(0, HandleTensor(std::move(var)));
    return absl::OkStatus();
  }

 private:
  const std::string container_;
  const std::string name_;
  const DataType dtype_;
  const PartialShape shape_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateVariable(const KernelConstruction& c) {
  const Node& node = c.node();
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(node, "dtype"));
  PartialShape shape;
  if (FindAttr(node, "shape") != nullptr) {
    ASSIGN_OR_RETURN(shape, GetShapeAttr(node, "shape"));
  }
  std::string name = GetStringAttrOr(node, "shared_name", "");
  if (name.empty()) name = node.name;
  return std::make_unique<VariableKernel>(GetStringAttrOr(node, "container", ""), std::move(name),
                                          dtype, std::move(shape));
}

// ---- TF1 reference ops ----

class AssignKernel final : public OpKernel {
 public:
  explicit AssignKernel(bool validate_shape) : validate_shape_(validate_shape) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    if (ctx.num_inputs() < 2) return absl::InvalidArgumentError("Assign needs a value input");
    const Tensor& value = ctx.input(1);
    if (validate_shape_) {
      auto mismatch = [&](const std::string& lhs) {
        return absl::InvalidArgumentError(
            absl::StrCat("Assign requires shapes of both tensors to match. lhs shape= ", lhs,
                         " rhs shape= ", value.shape().DebugString()));
      };
      if (!var->shape().IsCompatibleWith(value.shape()))
        return mismatch(var->shape().DebugString());
      if (var->initialized()) {
        ASSIGN_OR_RETURN(Tensor current, var->Read());
        if (current.shape() != value.shape()) return mismatch(current.shape().DebugString());
      }
    }
    RETURN_IF_ERROR(var->Assign(value));
    ctx.set_output(0, ctx.input(0));
    return absl::OkStatus();
  }

 private:
  const bool validate_shape_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateAssign(const KernelConstruction& c) {
  return std::make_unique<AssignKernel>(GetBoolAttrOr(c.node(), "validate_shape", true));
}

template <bool kAdd>
absl::Status AssignUpdateRef(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
  if (ctx.num_inputs() < 2) return absl::InvalidArgumentError("expected a value input");
  const Tensor& delta = ctx.input(1);
  RETURN_IF_ERROR(
      var->Update([&](const Tensor& current) { return AddOrSub<kAdd>(current, delta); }).status());
  ctx.set_output(0, ctx.input(0));
  return absl::OkStatus();
}

absl::Status IsVariableInitialized(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
  ctx.allocate_output(0, DataType::kBool, Shape{}).scalar<bool>() = var->initialized();
  return absl::OkStatus();
}

absl::Status ReadRef(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
  ASSIGN_OR_RETURN(Tensor value, var->Read());
  ctx.set_output(0, std::move(value));
  return absl::OkStatus();
}

// ---- TF2 resource ops ----

class ReadVariableKernel final : public OpKernel {
 public:
  explicit ReadVariableKernel(DataType dtype) : dtype_(dtype) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    ASSIGN_OR_RETURN(Tensor value, var->Read());
    if (value.dtype() != dtype_) {
      return absl::InvalidArgumentError(
          absl::StrCat("Trying to read variable \"", var->name(), "\" with wrong dtype. Expected ",
                       TfTypeName(dtype_), " got ", TfTypeName(value.dtype())));
    }
    ctx.set_output(0, std::move(value));
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateReadVariable(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
  return std::make_unique<ReadVariableKernel>(dtype);
}

absl::Status CheckValueDType(DataType want, const Tensor& value) {
  if (value.dtype() == want) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("Variable and value dtypes don't match; respectively, ", TfTypeName(want),
                   " and ", TfTypeName(value.dtype())));
}

class AssignVariableKernel final : public OpKernel {
 public:
  AssignVariableKernel(DataType dtype, bool validate_shape)
      : dtype_(dtype), validate_shape_(validate_shape) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    if (ctx.num_inputs() < 2) return absl::InvalidArgumentError("expected a value input");
    const Tensor& value = ctx.input(1);
    RETURN_IF_ERROR(CheckValueDType(dtype_, value));
    if (validate_shape_ && var->initialized()) {
      ASSIGN_OR_RETURN(Tensor current, var->Read());
      if (current.shape() != value.shape()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Trying to assign to variable with tensor with wrong shape. Expected ",
                         current.shape().DebugString(), " got ", value.shape().DebugString()));
      }
    }
    return var->Assign(value);
  }

 private:
  const DataType dtype_;
  const bool validate_shape_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateAssignVariable(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
  return std::make_unique<AssignVariableKernel>(dtype,
                                                GetBoolAttrOr(c.node(), "validate_shape", false));
}

template <bool kAdd>
class AssignUpdateVariableKernel final : public OpKernel {
 public:
  explicit AssignUpdateVariableKernel(DataType dtype) : dtype_(dtype) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    if (ctx.num_inputs() < 2) return absl::InvalidArgumentError("expected a value input");
    const Tensor& delta = ctx.input(1);
    RETURN_IF_ERROR(CheckValueDType(dtype_, delta));
    return var->Update([&](const Tensor& current) { return AddOrSub<kAdd>(current, delta); })
        .status();
  }

 private:
  const DataType dtype_;
};

template <bool kAdd>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateAssignUpdateVariable(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
  return std::make_unique<AssignUpdateVariableKernel<kAdd>>(dtype);
}

// ResourceApplyGradientDescent: var -= alpha * delta (an SGD step of a training signature that a
// SavedModel exports next to its serving ones). Checks and wording of TensorFlow's
// ApplyGradientDescentOp (training_ops.cc).
class ApplyGradientDescentKernel final : public OpKernel {
 public:
  explicit ApplyGradientDescentKernel(DataType dtype) : dtype_(dtype) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    if (ctx.num_inputs() != 3) return absl::InvalidArgumentError("expected inputs var, alpha, delta");
    const Tensor& alpha = ctx.input(1);
    const Tensor& delta = ctx.input(2);
    RETURN_IF_ERROR(CheckValueDType(dtype_, alpha));
    RETURN_IF_ERROR(CheckValueDType(dtype_, delta));
    if (alpha.rank() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("alpha is not a scalar: ", alpha.shape().DebugString()));
    }
    return var
        ->Update([&](const Tensor& current) -> absl::StatusOr<Tensor> {
          RETURN_IF_ERROR(CheckValueDType(dtype_, current));
          if (current.shape() != delta.shape()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "var and delta do not have the same shape", current.shape().DebugString(), " ",
                delta.shape().DebugString()));
          }
          Tensor next(dtype_, current.shape());
          if (dtype_ == DataType::kFloat) {
            Step<float>(current, alpha, delta, next);
          } else {
            Step<double>(current, alpha, delta, next);
          }
          return next;
        })
        .status();
  }

 private:
  template <typename T>
  static void Step(const Tensor& var, const Tensor& alpha, const Tensor& delta, Tensor& out) {
    const T a = alpha.data<T>()[0];
    for (int64_t i = 0; i < var.num_elements(); ++i) {
      out.data<T>()[i] = var.data<T>()[i] - a * delta.data<T>()[i];
    }
  }

  const DataType dtype_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateApplyGradientDescent(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && dtype != DataType::kDouble) {
    return absl::UnimplementedError(absl::StrCat(
        "op \"ResourceApplyGradientDescent\" does not support ", DataTypeName(dtype),
        " (supported: DT_FLOAT, DT_DOUBLE)"));
  }
  return std::make_unique<ApplyGradientDescentKernel>(dtype);
}

// Like TensorFlow, a handle that does not lead to a variable is simply "not initialized".
absl::Status VarIsInitialized(KernelContext& ctx) {
  auto var = InputVariable(ctx, 0);
  ctx.allocate_output(0, DataType::kBool, Shape{}).scalar<bool>() =
      var.ok() && (*var)->initialized();
  return absl::OkStatus();
}

class DestroyResourceKernel final : public OpKernel {
 public:
  explicit DestroyResourceKernel(bool ignore_lookup_error)
      : ignore_lookup_error_(ignore_lookup_error) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<Variable> var, InputVariable(ctx, 0));
    // Handles do not record their container; resource variables of SavedModels use the default
    // (empty) one.
    const bool present = ctx.resources().Find("", var->name()) == var;
    if (present) {
      ctx.resources().Remove("", var->name());
    } else if (!ignore_lookup_error_) {
      return absl::NotFoundError(
          absl::StrCat("Resource \"", var->name(), "\" does not exist (already destroyed?)"));
    }
    return absl::OkStatus();
  }

 private:
  const bool ignore_lookup_error_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateDestroyResource(const KernelConstruction& c) {
  return std::make_unique<DestroyResourceKernel>(
      GetBoolAttrOr(c.node(), "ignore_lookup_error", true));
}

// Copy-on-read is a TensorFlow memory optimisation; our variables are copy-on-write already.
absl::Status DisableCopyOnRead(KernelContext& ctx) { return InputVariable(ctx, 0).status(); }

}  // namespace

void RegisterVariableOps(OpRegistry& registry) {
  registry.Add(
      "Assign",
      {.factory = CreateAssign, .stateful = true, .ref_output_mask = 1, .ref_input_mask = 1});
  registry.Add("AssignAdd", {.compute = AssignUpdateRef<true>,
                             .stateful = true,
                             .ref_output_mask = 1,
                             .ref_input_mask = 1});
  registry.Add("AssignAddVariableOp",
               {.factory = CreateAssignUpdateVariable<true>, .stateful = true});
  registry.Add("AssignSub", {.compute = AssignUpdateRef<false>,
                             .stateful = true,
                             .ref_output_mask = 1,
                             .ref_input_mask = 1});
  registry.Add("AssignSubVariableOp",
               {.factory = CreateAssignUpdateVariable<false>, .stateful = true});
  registry.Add("AssignVariableOp", {.factory = CreateAssignVariable, .stateful = true});
  registry.Add("DestroyResourceOp", {.factory = CreateDestroyResource, .stateful = true});
  registry.Add("DisableCopyOnRead", {.compute = DisableCopyOnRead, .stateful = true});
  registry.Add("IsVariableInitialized",
               {.compute = IsVariableInitialized, .stateful = true, .ref_input_mask = 1});
  registry.Add("ReadVariableOp", {.factory = CreateReadVariable, .stateful = true});
  registry.Add("ResourceApplyGradientDescent",
               {.factory = CreateApplyGradientDescent, .stateful = true, .num_outputs = 0});
  registry.Add("VarHandleOp",
               {.factory = CreateVariable, .stateful = true, .compile_time_handle = true});
  registry.Add("VarIsInitializedOp", {.compute = VarIsInitialized, .stateful = true});
  registry.Add("Variable", {.factory = CreateVariable,
                            .stateful = true,
                            .ref_output_mask = 1,
                            .compile_time_handle = true});
  registry.Add("VariableV2", {.factory = CreateVariable,
                              .stateful = true,
                              .ref_output_mask = 1,
                              .compile_time_handle = true});
  registry.Add("_ReadRef",
               {.compute = ReadRef, .stateful = true, .num_outputs = 1, .ref_input_mask = 1});
}

}  // namespace savant::engine
