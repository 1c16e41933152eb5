#include "engine/shape_inference.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"
#include "engine/fusion.h"

namespace savant::engine {
namespace {

constexpr int64_t kUnknown = -1;

PartialShape Dims(const std::vector<int64_t>& dims) { return PartialShape::FromDims(dims); }

std::vector<int64_t> DimsOf(const PartialShape& s) { return {s.dims().begin(), s.dims().end()}; }


// Combines two descriptions of one tensor; INVALID_ARGUMENT when they contradict each other.
absl::StatusOr<PartialShape> Merge(const PartialShape& a, const PartialShape& b) {
  if (a.unknown_rank()) return b;
  if (b.unknown_rank()) return a;
  if (a.rank() != b.rank()) {
    return absl::InvalidArgumentError(absl::StrCat("shapes must be equal rank, but are ",
                                                   a.DebugString(), " and ", b.DebugString()));
  }
  std::vector<int64_t> dims(a.rank());
  for (int i = 0; i < a.rank(); ++i) {
    if (a.dim(i) >= 0 && b.dim(i) >= 0 && a.dim(i) != b.dim(i)) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", i, " in both shapes must be equal, but are ",
                                                     a.dim(i), " and ", b.dim(i), ": shapes are ",
                                                     a.DebugString(), " and ", b.DebugString()));
    }
    dims[i] = a.dim(i) >= 0 ? a.dim(i) : b.dim(i);
  }
  return Dims(dims);
}

// `axis` in [-rank, rank) made non-negative; INVALID_ARGUMENT otherwise.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("axis ", axis, " is out of range for rank ", rank, " [", -rank, ", ", rank, ")"));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

absl::Status RequireRank(const PartialShape& s, int rank, absl::string_view what) {
  if (!s.unknown_rank() && s.rank() != rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be rank ", rank, ", got ", s.DebugString()));
  }
  return absl::OkStatus();
}

int64_t DimOr(const PartialShape& s, int i) { return s.unknown_rank() ? kUnknown : s.dim(i); }

absl::StatusOr<PartialShape> InferMatMul(const Node& node, std::span<const PartialShape> in) {
  RETURN_IF_ERROR(RequireRank(in[0], 2, "In[0]"));
  RETURN_IF_ERROR(RequireRank(in[1], 2, "In[1]"));
  const bool ta = GetBoolAttrOr(node, "transpose_a", false);
  const bool tb = GetBoolAttrOr(node, "transpose_b", false);
  const int64_t m = DimOr(in[0], ta ? 1 : 0), k0 = DimOr(in[0], ta ? 0 : 1);
  const int64_t k1 = DimOr(in[1], tb ? 1 : 0), n = DimOr(in[1], tb ? 0 : 1);
  if (k0 >= 0 && k1 >= 0 && k0 != k1) {
    return absl::InvalidArgumentError(absl::StrCat("Matrix size-incompatible: In[0]: ", in[0].DebugString(),
                                                   ", In[1]: ", in[1].DebugString(),
                                                   ta || tb ? " (after the transpose attrs)" : ""));
  }
  return PartialShape{m, n};
}

absl::StatusOr<PartialShape> InferBatchMatMul(const Node& node, std::span<const PartialShape> in) {
  if (in[0].unknown_rank() || in[1].unknown_rank()) return PartialShape::UnknownRank();
  if (in[0].rank() < 2 || in[1].rank() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("In[0] and In[1] must have rank >= 2, got ",
                                                   in[0].DebugString(), " and ", in[1].DebugString()));
  }
  const bool adj_x = GetBoolAttrOr(node, "adj_x", false);
  const bool adj_y = GetBoolAttrOr(node, "adj_y", false);
  const int ra = in[0].rank(), rb = in[1].rank();
  const int64_t m = in[0].dim(adj_x ? ra - 1 : ra - 2), k0 = in[0].dim(adj_x ? ra - 2 : ra - 1);
  const int64_t k1 = in[1].dim(adj_y ? rb - 1 : rb - 2), n = in[1].dim(adj_y ? rb - 2 : rb - 1);
  if (k0 >= 0 && k1 >= 0 && k0 != k1) {
    return absl::InvalidArgumentError(absl::StrCat("Matrix size-incompatible: In[0]: ", in[0].DebugString(),
                                                   ", In[1]: ", in[1].DebugString()));
  }
  std::vector<int64_t> batch_a(in[0].dims().begin(), in[0].dims().end() - 2);
  std::vector<int64_t> batch_b(in[1].dims().begin(), in[1].dims().end() - 2);
  PartialShape batch;
  if (node.op == "BatchMatMul") {  // V1: equal batch dims, no broadcasting
    ASSIGN_OR_RETURN(batch, Merge(Dims(batch_a), Dims(batch_b)));
  } else {
    ASSIGN_OR_RETURN(batch, BroadcastShapes(Dims(batch_a), Dims(batch_b)));
  }
  std::vector<int64_t> dims = DimsOf(batch);
  dims.push_back(m);
  dims.push_back(n);
  return Dims(dims);
}

absl::StatusOr<PartialShape> InferReshape(const PartialShape& input, const PartialShape& shape_shape,
                                          const Tensor* shape_value) {
  std::optional<std::vector<int64_t>> target = ConstantInts(shape_value);
  if (!target) {
    // Only the rank is known, from the length of the shape vector.
    if (shape_shape.rank() == 1 && shape_shape.dim(0) >= 0) {
      return Dims(std::vector<int64_t>(shape_shape.dim(0), kUnknown));
    }
    return PartialShape::UnknownRank();
  }
  int infer_index = -1;
  int64_t known_product = 1;
  for (size_t i = 0; i < target->size(); ++i) {
    const int64_t d = (*target)[i];
    if (d == -1) {
      if (infer_index >= 0) {
        return absl::InvalidArgumentError(absl::StrCat("can only infer one dimension of the shape [",
                                                       absl::StrJoin(*target, ","), "]"));
      }
      infer_index = static_cast<int>(i);
    } else if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("size ", i, " must be non-negative, not ", d));
    } else {
      known_product *= d;
    }
  }
  std::vector<int64_t> dims = *target;
  if (!input.IsFullyDefined()) return Dims(dims);  // the -1, if any, stays unknown
  int64_t elements = 1;
  for (int64_t d : input.dims()) elements *= d;
  if (infer_index >= 0) {
    if (known_product == 0 ? elements != 0 : elements % known_product != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Input to reshape is a tensor with ", elements,
          " values, but the requested shape requires a multiple of ", known_product));
    }
    dims[infer_index] = known_product == 0 ? 0 : elements / known_product;
  } else if (known_product != elements) {
    return absl::InvalidArgumentError(absl::StrCat("Input to reshape is a tensor with ", elements,
                                                   " values, but the requested shape has ",
                                                   known_product));
  }
  return Dims(dims);
}

// Output size of one spatial dimension of a convolution or pooling window.
absl::StatusOr<int64_t> WindowedOutputSize(int64_t in, int64_t window, int64_t stride, int64_t dilation,
                                           absl::string_view padding, int64_t pad_before,
                                           int64_t pad_after) {
  if (stride <= 0 || dilation <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("strides and dilations must be positive, got ",
                                                   stride, " and ", dilation));
  }
  if (padding == "SAME") return in < 0 ? kUnknown : (in + stride - 1) / stride;
  if (in < 0 || window < 0) return kUnknown;
  const int64_t effective = (window - 1) * dilation + 1;
  const int64_t padded = padding == "EXPLICIT" ? in + pad_before + pad_after : in;
  if (padding != "VALID" && padding != "EXPLICIT") {
    return absl::InvalidArgumentError(absl::StrCat("unknown padding \"", padding, "\""));
  }
  if (padded < effective) {
    return absl::InvalidArgumentError(absl::StrCat("Computed output size would be negative: input ", in,
                                                   ", window ", effective, " (", padding, " padding)"));
  }
  return (padded - effective) / stride + 1;
}

// Conv2D, DepthwiseConv2dNative, MaxPool and AvgPool (and the _Fused conv forms).
absl::StatusOr<PartialShape> InferWindowed(const Node& node, std::span<const PartialShape> in,
                                           std::span<const Tensor* const> constants) {
  const bool conv = node.op != "MaxPool" && node.op != "AvgPool";
  const bool depthwise = node.op.find("Depthwise") != std::string::npos;
  RETURN_IF_ERROR(RequireRank(in[0], 4, "input"));
  const std::string format = GetStringAttrOr(node, "data_format", "NHWC");
  if (format != "NHWC" && format != "NCHW") return PartialShape::UnknownRank();
  const int h = format == "NHWC" ? 1 : 2, w = h + 1, c = format == "NHWC" ? 3 : 1;
  ASSIGN_OR_RETURN(std::vector<int64_t> strides, GetIntListAttr(node, "strides"));
  std::vector<int64_t> dilations = {1, 1, 1, 1};
  if (FindAttr(node, "dilations") != nullptr) {
    ASSIGN_OR_RETURN(dilations, GetIntListAttr(node, "dilations"));
  }
  if (strides.size() != 4 || dilations.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat("strides and dilations must have 4 entries, got ",
                                                   strides.size(), " and ", dilations.size()));
  }
  ASSIGN_OR_RETURN(std::string padding, GetStringAttr(node, "padding"));
  std::vector<int64_t> explicit_paddings(8, 0);
  if (padding == "EXPLICIT") {
    ASSIGN_OR_RETURN(explicit_paddings, GetIntListAttr(node, "explicit_paddings"));
    if (explicit_paddings.size() != 8) {
      return absl::InvalidArgumentError("explicit_paddings must have 8 entries");
    }
  }
  int64_t window_h = kUnknown, window_w = kUnknown, out_channels = DimOr(in[0], c);
  if (conv) {
    RETURN_IF_ERROR(RequireRank(in[1], 4, "filter"));
    window_h = DimOr(in[1], 0);
    window_w = DimOr(in[1], 1);
    const int64_t filter_in = DimOr(in[1], 2), filter_out = DimOr(in[1], 3);
    const int64_t channels = DimOr(in[0], c);
    if (depthwise) {
      if (channels >= 0 && filter_in >= 0 && channels != filter_in) {
        return absl::InvalidArgumentError(absl::StrCat("input depth ", channels,
                                                       " differs from the filter's ", filter_in));
      }
      const int64_t in_depth = channels >= 0 ? channels : filter_in;
      out_channels = in_depth >= 0 && filter_out >= 0 ? in_depth * filter_out : kUnknown;
    } else {
      if (channels >= 0 && filter_in > 0 && channels % filter_in != 0) {
        return absl::InvalidArgumentError(absl::StrCat("input depth ", channels,
                                                       " is not a multiple of the filter's ", filter_in,
                                                       ": input ", in[0].DebugString(), ", filter ",
                                                       in[1].DebugString()));
      }
      out_channels = filter_out;
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<int64_t> ksize, GetIntListAttr(node, "ksize"));
    if (ksize.size() != 4) return absl::InvalidArgumentError("ksize must have 4 entries");
    window_h = ksize[h];
    window_w = ksize[w];
  }
  ASSIGN_OR_RETURN(int64_t out_h, WindowedOutputSize(DimOr(in[0], h), window_h, strides[h], dilations[h],
                                                     padding, explicit_paddings[2 * h],
                                                     explicit_paddings[2 * h + 1]));
  ASSIGN_OR_RETURN(int64_t out_w, WindowedOutputSize(DimOr(in[0], w), window_w, strides[w], dilations[w],
                                                     padding, explicit_paddings[2 * w],
                                                     explicit_paddings[2 * w + 1]));
  std::vector<int64_t> dims(4);
  dims[0] = DimOr(in[0], 0);
  dims[h] = out_h;
  dims[w] = out_w;
  dims[c] = out_channels;
  return Dims(dims);
}

// Einsum and _FusedEinsum without ellipsis: each output label takes its dim from an input term
// that has it. Equations with "...", or input ranks that do not fit the terms, give an unknown
// rank (the kernel reports those at run time).
PartialShape InferEinsum(const Node& node, std::span<const PartialShape> in) {
  const std::string equation = GetStringAttrOr(node, "equation", "");
  const auto parsed = ParseEinsumEquation(equation);
  if (!parsed || equation.find('.') != std::string::npos) return PartialShape::UnknownRank();
  const std::vector<std::string>& terms = parsed->inputs;
  const std::string& out = parsed->output;
  if (terms.size() > in.size()) return PartialShape::UnknownRank();
  absl::flat_hash_map<char, int64_t> dims;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (in[i].unknown_rank()) continue;
    if (in[i].rank() != static_cast<int>(terms[i].size())) return PartialShape::UnknownRank();
    for (size_t j = 0; j < terms[i].size(); ++j) {
      const int64_t d = in[i].dim(static_cast<int>(j));
      auto [it, inserted] = dims.try_emplace(terms[i][j], d);
      if (!inserted && it->second < 0) it->second = d;
    }
  }
  std::vector<int64_t> result;
  for (char label : out) {
    auto it = dims.find(label);
    if (it == dims.end()) {
      // Every input term lists its labels, so a missing one means an input of unknown rank.
      bool listed = false;
      for (const auto& t : terms) listed = listed || t.find(label) != std::string::npos;
      if (!listed) return PartialShape::UnknownRank();
      result.push_back(kUnknown);
      continue;
    }
    result.push_back(it->second);
  }
  return Dims(result);
}

// _SavantDepthwisePointwise (depthwise inputs, then the pointwise filter) and _SavantConv2DMaxPool:
// the first node's windowed shape rule, then the second's on its result.
absl::StatusOr<PartialShape> InferFusedPair(const Node& node, std::span<const PartialShape> in) {
  const bool pointwise = node.op == "_SavantDepthwisePointwise";
  const auto [first, second] =
      pointwise ? SplitPair(node, "pw/", "_FusedDepthwiseConv2dNative", "depthwise", "Conv2D", "pointwise")
                : SplitPair(node, "pool/", "_FusedConv2D", "conv", "MaxPool", "pool");
  const size_t filter = 2 + static_cast<size_t>(std::max<int64_t>(0, GetIntAttrOr(node, "num_args", 0)));
  if (in.size() < 2 || (pointwise && in.size() <= filter)) return PartialShape::UnknownRank();
  ASSIGN_OR_RETURN(PartialShape mid, InferWindowed(first, in.subspan(0, 2), {}));
  std::vector<PartialShape> second_in = {mid};
  if (pointwise) second_in.push_back(in[filter]);
  return InferWindowed(second, second_in, {});
}

absl::StatusOr<PartialShape> InferReduction(const Node& node, const PartialShape& input,
                                            const Tensor* axes_value) {
  const bool keep_dims = GetBoolAttrOr(node, "keep_dims", false);
  std::optional<std::vector<int64_t>> axes = ConstantInts(axes_value);
  if (input.unknown_rank() || !axes) {
    if (keep_dims && !input.unknown_rank()) return Dims(std::vector<int64_t>(input.rank(), kUnknown));
    return PartialShape::UnknownRank();
  }
  absl::flat_hash_set<int> reduced;
  for (int64_t a : *axes) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, input.rank()));
    reduced.insert(axis);
  }
  std::vector<int64_t> dims;
  for (int i = 0; i < input.rank(); ++i) {
    if (!reduced.contains(i)) {
      dims.push_back(input.dim(i));
    } else if (keep_dims) {
      dims.push_back(1);
    }
  }
  return Dims(dims);
}

bool IsElementwiseUnary(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics", "Relu", "Relu6",
      "Elu", "Selu", "LeakyRelu", "Gelu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Exp", "Expm1",
      "Log", "Log1p", "Neg", "Abs", "Sqrt", "Rsqrt", "Square", "Reciprocal", "Inv", "Floor", "Ceil",
      "Round", "Rint", "Sign", "Erf", "Erfc", "Sin", "Cos", "Tan", "Softmax", "LogSoftmax", "Cast",
      "LogicalNot", "IsNan", "IsInf", "IsFinite", "ZerosLike", "OnesLike", "BiasAdd", "BiasAddV1",
      "ClipByValue"};
  return kOps.contains(op);
}

bool IsBroadcastingBinary(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "MulNoNan", "Maximum", "Minimum",
      "SquaredDifference", "Pow", "FloorDiv", "FloorMod", "TruncateDiv", "TruncateMod", "Mod",
      "Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr",
      "Atan2", "BitwiseAnd", "BitwiseOr", "BitwiseXor"};
  return kOps.contains(op);
}

absl::StatusOr<PartialShape> InferFirstOutput(const Node& node, std::span<const PartialShape> in,
                                              std::span<const Tensor* const> constants) {
  const std::string& op = node.op;
  const auto constant = [&](size_t i) { return i < constants.size() ? constants[i] : nullptr; };
  if (op == "Placeholder" || op == "PlaceholderWithDefault") {
    const tensorflow::AttrValue* shape = FindAttr(node, "shape");
    PartialShape declared = PartialShape::UnknownRank();
    if (shape != nullptr && shape->has_shape() && !shape->shape().unknown_rank()) {
      std::vector<int64_t> dims;
      for (const auto& d : shape->shape().dim()) dims.push_back(d.size() < 0 ? kUnknown : d.size());
      declared = Dims(dims);
    }
    if (op == "PlaceholderWithDefault" && !in.empty()) return Merge(declared, in[0]);
    return declared;
  }
  if (IsElementwiseUnary(op)) return in.empty() ? PartialShape::UnknownRank() : in[0];
  if (in.size() == 2 && IsBroadcastingBinary(op)) return BroadcastShapes(in[0], in[1]);
  if (op == "MatMul" || op == "_FusedMatMul") return InferMatMul(node, in);
  if (op == "BatchMatMul" || op == "BatchMatMulV2" || op == "BatchMatMulV3") {
    return InferBatchMatMul(node, in);
  }
  if (op == "Reshape" && in.size() == 2) return InferReshape(in[0], in[1], constant(1));
  if (op == "Conv2D" || op == "_FusedConv2D" || op == "DepthwiseConv2dNative" ||
      op == "_FusedDepthwiseConv2dNative" || op == "MaxPool" || op == "AvgPool") {
    return InferWindowed(node, in, constants);
  }
  if (op == "_SavantDepthwisePointwise" || op == "_SavantConv2DMaxPool") return InferFusedPair(node, in);
  if (op == "Einsum" || op == "_FusedEinsum") return InferEinsum(node, in);
  if (op == "_SavantLayerNorm") return in.empty() ? PartialShape::UnknownRank() : in[0];
  if (op == "Shape") {
    return PartialShape{in[0].unknown_rank() ? kUnknown : static_cast<int64_t>(in[0].rank())};
  }
  if (op == "Size" || op == "Rank") return Dims(std::vector<int64_t>());
  if (op == "Select" && in.size() == 3) return Merge(in[1], in[2]);
  if (op == "SelectV2" && in.size() == 3) {
    ASSIGN_OR_RETURN(PartialShape values, BroadcastShapes(in[1], in[2]));
    return BroadcastShapes(in[0], values);
  }
  if (op == "Pack") {
    PartialShape merged = PartialShape::UnknownRank();
    for (const auto& s : in) {
      ASSIGN_OR_RETURN(merged, Merge(merged, s));
    }
    if (merged.unknown_rank()) return merged;
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(GetIntAttrOr(node, "axis", 0), merged.rank() + 1));
    std::vector<int64_t> dims = DimsOf(merged);
    dims.insert(dims.begin() + axis, static_cast<int64_t>(in.size()));
    return Dims(dims);
  }
  if ((op == "ConcatV2" || op == "Concat") && in.size() >= 2) {
    const bool v2 = op == "ConcatV2";
    const size_t axis_input = v2 ? in.size() - 1 : 0;
    std::span<const PartialShape> values = v2 ? in.first(in.size() - 1) : in.subspan(1);
    std::optional<std::vector<int64_t>> axis = ConstantInts(constant(axis_input));
    int rank = -1;
    for (const auto& s : values) rank = s.unknown_rank() ? rank : s.rank();
    if (rank < 0) return PartialShape::UnknownRank();
    if (!axis || axis->size() != 1) return Dims(std::vector<int64_t>(rank, kUnknown));
    ASSIGN_OR_RETURN(int a, NormalizeAxis((*axis)[0], rank));
    std::vector<int64_t> dims(rank, kUnknown);
    int64_t total = 0;
    for (const auto& s : values) {
      RETURN_IF_ERROR(RequireRank(s, rank, "every concatenated value"));
      const int64_t d = DimOr(s, a);
      total = total < 0 || d < 0 ? kUnknown : total + d;
      std::vector<int64_t> others = s.unknown_rank() ? std::vector<int64_t>(rank, kUnknown) : DimsOf(s);
      others[a] = kUnknown;
      std::vector<int64_t> mine = dims;
      mine[a] = kUnknown;
      ASSIGN_OR_RETURN(PartialShape merged, Merge(Dims(mine), Dims(others)));
      dims = DimsOf(merged);
    }
    dims[a] = total;
    return Dims(dims);
  }
  if (op == "ExpandDims" && in.size() == 2) {
    std::optional<std::vector<int64_t>> dim = ConstantInts(constant(1));
    if (in[0].unknown_rank() || !dim || dim->size() != 1) return PartialShape::UnknownRank();
    ASSIGN_OR_RETURN(int axis, NormalizeAxis((*dim)[0], in[0].rank() + 1));
    std::vector<int64_t> dims = DimsOf(in[0]);
    dims.insert(dims.begin() + axis, 1);
    return Dims(dims);
  }
  if (op == "Squeeze") {
    if (in[0].unknown_rank()) return in[0];
    std::vector<int64_t> axes = {};
    if (FindAttr(node, "squeeze_dims") != nullptr) {
      ASSIGN_OR_RETURN(axes, GetIntListAttr(node, "squeeze_dims"));
    }
    absl::flat_hash_set<int> squeezed;
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, in[0].rank()));
      if (in[0].dim(axis) >= 0 && in[0].dim(axis) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("can not squeeze dim[", axis,
                                                       "], expected a dimension of 1, got ",
                                                       in[0].dim(axis)));
      }
      squeezed.insert(axis);
    }
    std::vector<int64_t> dims;
    for (int i = 0; i < in[0].rank(); ++i) {
      const int64_t d = in[0].dim(i);
      if (squeezed.contains(i)) continue;
      if (axes.empty() && d == 1) continue;
      if (axes.empty() && d < 0) return PartialShape::UnknownRank();  // may or may not be 1
      dims.push_back(d);
    }
    return Dims(dims);
  }
  if (op == "Transpose" && in.size() == 2) {
    std::optional<std::vector<int64_t>> perm = ConstantInts(constant(1));
    if (in[0].unknown_rank()) return in[0];
    if (!perm) return Dims(std::vector<int64_t>(in[0].rank(), kUnknown));
    if (static_cast<int>(perm->size()) != in[0].rank()) {
      return absl::InvalidArgumentError(absl::StrCat("transpose expects a vector of size ", in[0].rank(),
                                                     ", but the permutation has ", perm->size()));
    }
    std::vector<int64_t> dims;
    for (int64_t p : *perm) {
      ASSIGN_OR_RETURN(int axis, NormalizeAxis(p, in[0].rank()));
      dims.push_back(in[0].dim(axis));
    }
    return Dims(dims);
  }
  if ((op == "Mean" || op == "Sum" || op == "Max" || op == "Min" || op == "Prod" || op == "All" ||
       op == "Any") &&
      in.size() == 2) {
    return InferReduction(node, in[0], constant(1));
  }
  if ((op == "ArgMax" || op == "ArgMin") && in.size() == 2) {
    std::optional<std::vector<int64_t>> dim = ConstantInts(constant(1));
    if (in[0].unknown_rank()) return in[0];
    if (!dim || dim->size() != 1) return Dims(std::vector<int64_t>(in[0].rank() - 1, kUnknown));
    ASSIGN_OR_RETURN(int axis, NormalizeAxis((*dim)[0], in[0].rank()));
    std::vector<int64_t> dims = DimsOf(in[0]);
    dims.erase(dims.begin() + axis);
    return Dims(dims);
  }
  if ((op == "GatherV2" || op == "Gather") && in.size() >= 2) {
    std::optional<std::vector<int64_t>> axis_value =
        op == "Gather" ? std::optional<std::vector<int64_t>>(std::vector<int64_t>{0})
                       : ConstantInts(constant(2));
    const int64_t batch_dims = GetIntAttrOr(node, "batch_dims", 0);
    if (in[0].unknown_rank() || in[1].unknown_rank() || !axis_value || axis_value->size() != 1 ||
        batch_dims != 0) {
      return PartialShape::UnknownRank();
    }
    ASSIGN_OR_RETURN(int axis, NormalizeAxis((*axis_value)[0], in[0].rank()));
    std::vector<int64_t> dims(in[0].dims().begin(), in[0].dims().begin() + axis);
    dims.insert(dims.end(), in[1].dims().begin(), in[1].dims().end());
    dims.insert(dims.end(), in[0].dims().begin() + axis + 1, in[0].dims().end());
    return Dims(dims);
  }
  if ((op == "Pad" || op == "PadV2" || op == "MirrorPad") && in.size() >= 2) {
    std::optional<std::vector<int64_t>> paddings = ConstantInts(constant(1));
    if (in[0].unknown_rank()) return in[0];
    if (!paddings) return Dims(std::vector<int64_t>(in[0].rank(), kUnknown));
    if (static_cast<int>(paddings->size()) != 2 * in[0].rank()) {
      return absl::InvalidArgumentError(absl::StrCat("paddings must be [", in[0].rank(),
                                                     ",2] for input ", in[0].DebugString(), ", got ",
                                                     paddings->size(), " values"));
    }
    std::vector<int64_t> dims = DimsOf(in[0]);
    for (int i = 0; i < in[0].rank(); ++i) {
      if (dims[i] >= 0) dims[i] += (*paddings)[2 * i] + (*paddings)[2 * i + 1];
    }
    return Dims(dims);
  }
  if (op == "Tile" && in.size() == 2) {
    std::optional<std::vector<int64_t>> multiples = ConstantInts(constant(1));
    if (in[0].unknown_rank()) return in[0];
    if (!multiples) return Dims(std::vector<int64_t>(in[0].rank(), kUnknown));
    if (static_cast<int>(multiples->size()) != in[0].rank()) {
      return absl::InvalidArgumentError(absl::StrCat("multiples must have ", in[0].rank(),
                                                     " values for input ", in[0].DebugString(),
                                                     ", got ", multiples->size()));
    }
    std::vector<int64_t> dims = DimsOf(in[0]);
    for (int i = 0; i < in[0].rank(); ++i) {
      if (dims[i] >= 0) dims[i] *= (*multiples)[i];
    }
    return Dims(dims);
  }
  if (op == "Slice" && in.size() == 3) {
    std::optional<std::vector<int64_t>> begin = ConstantInts(constant(1));
    std::optional<std::vector<int64_t>> size = ConstantInts(constant(2));
    if (!size) return in[0].unknown_rank() ? in[0] : Dims(std::vector<int64_t>(in[0].rank(), kUnknown));
    std::vector<int64_t> dims = *size;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] != -1) continue;
      // -1: everything from begin to the end of the dimension.
      const bool known = begin && i < begin->size() && !in[0].unknown_rank() &&
                         static_cast<int>(i) < in[0].rank() && in[0].dim(static_cast<int>(i)) >= 0;
      dims[i] = known ? in[0].dim(static_cast<int>(i)) - (*begin)[i] : kUnknown;
    }
    return Dims(dims);
  }
  if (op == "OneHot" && in.size() == 4) {
    std::optional<std::vector<int64_t>> depth = ConstantInts(constant(1));
    if (in[0].unknown_rank()) return in[0];
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(GetIntAttrOr(node, "axis", -1), in[0].rank() + 1));
    std::vector<int64_t> dims = DimsOf(in[0]);
    dims.insert(dims.begin() + axis, depth && depth->size() == 1 ? (*depth)[0] : kUnknown);
    return Dims(dims);
  }
  if (op == "Fill" && in.size() == 2) {
    std::optional<std::vector<int64_t>> dims = ConstantInts(constant(0));
    if (!dims) return PartialShape::UnknownRank();
    return Dims(*dims);
  }
  return PartialShape::UnknownRank();
}

}  // namespace

absl::StatusOr<PartialShape> BroadcastShapes(const PartialShape& a, const PartialShape& b) {
  if (a.unknown_rank() || b.unknown_rank()) return PartialShape::UnknownRank();
  const int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> dims(rank);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    const int64_t da = ia >= 0 ? a.dim(ia) : 1;
    const int64_t db = ib >= 0 ? b.dim(ib) : 1;
    if (da == 1) {
      dims[i] = db;
    } else if (db == 1) {
      dims[i] = da;
    } else if (da < 0) {
      dims[i] = db;  // unknown vs n > 1 is n (or an error at run time); unknown vs unknown stays so
    } else if (db < 0 || da == db) {
      dims[i] = da;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("Incompatible shapes: ", a.DebugString(), " vs. ", b.DebugString()));
    }
  }
  return Dims(dims);
}

bool ShapesCompatible(const PartialShape& a, const PartialShape& b) { return Merge(a, b).ok(); }

absl::StatusOr<std::vector<PartialShape>> InferNodeShapes(const Node& node,
                                                          std::span<const PartialShape> inputs,
                                                          std::span<const Tensor* const> constants,
                                                          int num_outputs) {
  std::vector<PartialShape> outputs(std::max(0, num_outputs), PartialShape::UnknownRank());
  if (num_outputs <= 0) return outputs;
  if (node.op == "IdentityN") {
    for (int i = 0; i < num_outputs && i < static_cast<int>(inputs.size()); ++i) outputs[i] = inputs[i];
    return outputs;
  }
  if (node.op == "FusedBatchNorm" || node.op == "FusedBatchNormV2" || node.op == "FusedBatchNormV3") {
    if (!inputs.empty()) outputs[0] = inputs[0];
    return outputs;
  }
  ASSIGN_OR_RETURN(outputs[0], InferFirstOutput(node, inputs, constants));
  return outputs;
}

std::optional<std::vector<int64_t>> ConstantInts(const Tensor* t) {
  if (t == nullptr) return std::nullopt;
  std::vector<int64_t> v;
  if (t->dtype() == DataType::kInt32) {
    for (int32_t x : t->flat<int32_t>()) v.push_back(x);
  } else if (t->dtype() == DataType::kInt64) {
    for (int64_t x : t->flat<int64_t>()) v.push_back(x);
  } else {
    return std::nullopt;
  }
  return v;
}

std::optional<EinsumEquation> ParseEinsumEquation(absl::string_view equation) {
  std::string eq;
  for (char ch : equation) {
    if (ch != ' ') eq.push_back(ch);
  }
  const size_t arrow = eq.find("->");
  if (arrow == std::string::npos) return std::nullopt;
  EinsumEquation parsed;
  parsed.inputs = absl::StrSplit(eq.substr(0, arrow), ',');
  parsed.output = eq.substr(arrow + 2);
  return parsed;
}

}  // namespace savant::engine
