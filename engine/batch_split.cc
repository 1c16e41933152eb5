#include "engine/batch_split.h"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/shape_inference.h"

namespace savant::engine {
namespace {

// Element-wise ops of one input.
bool IsUnary(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "Abs", "Ceil", "Cos", "Cast", "Elu", "Erf", "Exp", "Floor", "Identity", "IsNan",
      "LeakyRelu", "Log", "Log1p", "LogicalNot", "Neg", "OnesLike", "Reciprocal", "Relu",
      "Relu6", "Round", "Rsqrt", "Selu", "Sigmoid", "Sign", "Sin", "Snapshot", "Softplus",
      "Softsign", "Sqrt", "Square", "StopGradient", "Tanh", "ZerosLike"};
  return kOps.contains(op);
}

// Element-wise ops with numpy broadcasting over all their inputs.
bool IsBroadcasting(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "Add", "AddN", "AddV2", "BiasAdd", "ClipByValue", "Div", "DivNoNan", "Equal",
      "FakeQuantWithMinMaxVars", "FloorDiv", "FloorMod", "Greater", "GreaterEqual", "Less",
      "LessEqual", "LogicalAnd", "LogicalOr", "Maximum", "Minimum", "Mul", "NotEqual", "Pow",
      "RealDiv", "SelectV2", "SquaredDifference", "Sub"};
  return kOps.contains(op);
}

// Ops whose input 0 is a batch of images (or rows) processed one by one, all other inputs
// being weights: convolutions, pooling, inference batch norm and the fused forms.
bool IsPerImage(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "AvgPool", "Conv2D", "DepthwiseConv2dNative", "FusedBatchNorm", "FusedBatchNormV2",
      "FusedBatchNormV3", "MaxPool", "ResizeBilinear", "ResizeNearestNeighbor", "_FusedConv2D",
      "_FusedDepthwiseConv2dNative", "_SavantConv2DMaxPool", "_SavantDepthwisePointwise"};
  return kOps.contains(op);
}

// Ops that reduce over the axes given by input 1 (a scalar or a list).
bool IsReduction(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "All", "Any", "ArgMax", "ArgMin", "Max", "Mean", "Min", "Prod", "Sum"};
  return kOps.contains(op);
}

// `axis` in [-rank, rank) made non-negative; -1 when out of range.
int64_t NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return -1;
  return axis < 0 ? axis + rank : axis;
}

class Classifier {
 public:
  Classifier(const Node& node, std::span<const RowClass> inputs, std::span<const PartialShape> shapes,
             std::span<const Tensor* const> constants, std::span<const PartialShape> outputs)
      : node_(node), in_(inputs), shapes_(shapes), constants_(constants), outputs_(outputs) {}

  // Outputs' classes; *scale receives the kRows outputs' scale.
  std::vector<RowClass> Run(std::span<const int64_t> input_scales, int64_t* scale) {
    std::vector<RowClass> out(outputs_.size(), RowClass::kOther);
    bool any_rows = false;
    scale_ = 0;
    for (size_t i = 0; i < in_.size(); ++i) {
      const RowClass c = in_[i];
      if (c == RowClass::kOther) return out;
      if (c != RowClass::kRows) continue;
      any_rows = true;
      const int64_t s = i < input_scales.size() ? input_scales[i] : 1;
      if (s < 1 || (scale_ != 0 && s != scale_)) return out;
      scale_ = s;
    }
    if (!any_rows || out.empty()) return out;
    const int outputs = RowWiseOutputs();
    *scale = scale_;
    for (int p = 0; p < std::min<int>(outputs, static_cast<int>(out.size())); ++p) out[p] = RowClass::kRows;
    return out;
  }

 private:
  bool Rows(int i) const { return i < static_cast<int>(in_.size()) && in_[i] == RowClass::kRows; }
  bool Constant(int i) const { return i < static_cast<int>(in_.size()) && in_[i] == RowClass::kConstant; }
  int Rank(int i) const { return i < static_cast<int>(shapes_.size()) ? shapes_[i].rank() : -1; }
  int OutRank() const { return outputs_.empty() ? -1 : outputs_[0].rank(); }
  const Tensor* Const(int i) const { return i < static_cast<int>(constants_.size()) ? constants_[i] : nullptr; }
  bool OnlyInput0Rows() const {
    if (!Rows(0)) return false;
    for (size_t i = 1; i < in_.size(); ++i) {
      if (!Constant(static_cast<int>(i))) return false;
    }
    return true;
  }
  // Every input is either row-wise with the output's rank, or a constant that broadcasts along
  // dim 0 (lower rank, or dim 0 of 1).
  bool Broadcasts() const {
    const int rank = OutRank();
    if (rank < 1) return false;
    for (int i = 0; i < static_cast<int>(in_.size()); ++i) {
      if (Rows(i)) {
        if (Rank(i) != rank) return false;
      } else if (Rank(i) < 0 || (Rank(i) == rank && shapes_[i].dim(0) != 1)) {
        return false;
      }
    }
    return true;
  }

  // How many leading outputs are row-wise (0: none).
  int RowWiseOutputs() {
    const absl::string_view op = node_.op;
    const int n = static_cast<int>(in_.size());
    if (IsUnary(op)) return n == 1 && Rows(0) ? 1 : 0;
    if (IsBroadcasting(op)) return Broadcasts() ? 1 : 0;
    if (op == "Softmax" || op == "LogSoftmax" || op == "_SavantLayerNorm") {
      return OnlyInput0Rows() && Rank(0) >= 2 ? 1 : 0;
    }
    if (IsPerImage(op)) {
      if (absl::StartsWith(op, "FusedBatchNorm") && GetBoolAttrOr(node_, "is_training", true)) return 0;
      // Weights, except that fused convolutions may add a residual input of the output's shape.
      for (int i = 1; i < n; ++i) {
        const bool residual = i >= 2 && absl::StartsWith(op, "_Fused") && Rows(i) && Rank(i) == OutRank();
        if (!Constant(i) && !residual) return 0;
      }
      // FusedBatchNorm's other outputs are the (constant) statistics: not rows.
      return Rows(0) ? 1 : 0;
    }
    if (op == "MatMul" || op == "_FusedMatMul") {
      if (GetBoolAttrOr(node_, "transpose_a", false) || !Rows(0) || !Constant(1)) return 0;
      for (int i = 2; i < n; ++i) {
        if (!Constant(i) && !(Rows(i) && Rank(i) == 2)) return 0;
      }
      return 1;
    }
    if (IsReduction(op) || op == "Cumsum") {
      const auto axes = ConstantInts(Const(1));
      const int rank = Rank(0);
      if (!Rows(0) || !axes || rank < 1) return 0;
      for (int64_t a : *axes) {
        if (NormalizeAxis(a, rank) <= 0) return 0;
      }
      return 1;
    }
    if (op == "TopKV2") return OnlyInput0Rows() && Rank(0) >= 2 ? 2 : 0;
    if (op == "Reshape") {
      // To [-1, d1, ...]: reshaping keeps the row-major order, so batch row i (scale * E elements
      // of E per dim-0 row) becomes the scale * E / (d1*...) rows after those of rows 0..i-1, as
      // long as that divides evenly: the new scale.
      const auto target = ConstantInts(Const(1));
      if (!Rows(0) || !target || target->empty() || (*target)[0] != -1) return 0;
      const int64_t row = RowBytes(shapes_[0], 1);
      int64_t target_row = 1;
      for (size_t i = 1; i < target->size(); ++i) {
        if ((*target)[i] <= 0) return 0;
        target_row *= (*target)[i];
      }
      if (row <= 0 || (scale_ * row) % target_row != 0) return 0;
      scale_ = scale_ * row / target_row;
      return 1;
    }
    if (op == "Einsum" || op == "_FusedEinsum") return EinsumRows();
    if (op == "BatchMatMul" || op == "BatchMatMulV2" || op == "BatchMatMulV3") {
      // Batch dims lead: rows times a weight that broadcasts over them (lower rank, or dim 0 of
      // 1), or rows times rows of the same rank (pairwise by batch).
      const int rank = Rank(0);
      if (!Rows(0) || rank < 3 || n != 2 || OutRank() != rank) return 0;
      if (Rows(1)) return Rank(1) == rank ? 1 : 0;
      return Constant(1) && Rank(1) >= 2 && (Rank(1) < rank || shapes_[1].dim(0) == 1) ? 1 : 0;
    }
    if (op == "ExpandDims") {
      const auto axis = ConstantInts(Const(1));
      if (!OnlyInput0Rows() || !axis || axis->size() != 1 || Rank(0) < 0) return 0;
      return NormalizeAxis((*axis)[0], Rank(0) + 1) >= 1 ? 1 : 0;
    }
    if (op == "Squeeze") {
      auto dims = GetIntListAttr(node_, "squeeze_dims");
      if (!Rows(0) || !dims.ok() || dims->empty() || Rank(0) < 0) return 0;
      for (int64_t d : *dims) {
        if (NormalizeAxis(d, Rank(0)) <= 0) return 0;
      }
      return 1;
    }
    if (op == "Transpose") {
      const auto perm = ConstantInts(Const(1));
      return OnlyInput0Rows() && perm && !perm->empty() && (*perm)[0] == 0 ? 1 : 0;
    }
    if (op == "Pad" || op == "PadV2" || op == "MirrorPad") {
      const auto pads = ConstantInts(Const(1));
      return OnlyInput0Rows() && pads && pads->size() >= 2 && (*pads)[0] == 0 && (*pads)[1] == 0 ? 1 : 0;
    }
    if (op == "Tile") {
      const auto multiples = ConstantInts(Const(1));
      return OnlyInput0Rows() && multiples && !multiples->empty() && (*multiples)[0] == 1 ? 1 : 0;
    }
    if (op == "ConcatV2" || op == "Pack") {
      const int values = op == "ConcatV2" ? n - 1 : n;
      const int rank = OutRank();
      std::optional<int64_t> axis;
      if (op == "ConcatV2") {
        const auto a = ConstantInts(Const(n - 1));
        if (a && a->size() == 1) axis = (*a)[0];
      } else {
        axis = GetIntAttrOr(node_, "axis", 0);
      }
      if (!axis || rank < 1) return 0;
      for (int i = 0; i < values; ++i) {
        if (!Rows(i) || Rank(i) != (op == "Pack" ? rank - 1 : rank)) return 0;
      }
      return NormalizeAxis(*axis, rank) >= 1 ? 1 : 0;
    }
    if (op == "Split" || op == "SplitV" || op == "Unpack") {
      const int value = op == "Split" ? 1 : 0;
      std::optional<int64_t> axis;
      if (op == "Unpack") {
        axis = GetIntAttrOr(node_, "axis", 0);
      } else {
        const auto a = ConstantInts(Const(op == "Split" ? 0 : 2));
        if (a && a->size() == 1) axis = (*a)[0];
      }
      for (int i = 0; i < n; ++i) {
        if (i != value && !Constant(i)) return 0;
      }
      if (!Rows(value) || !axis || NormalizeAxis(*axis, Rank(value)) < 1) return 0;
      return static_cast<int>(outputs_.size());
    }
    if (op == "Slice") {
      const auto begin = ConstantInts(Const(1)), size = ConstantInts(Const(2));
      return OnlyInput0Rows() && begin && size && !begin->empty() && !size->empty() &&
                     (*begin)[0] == 0 && (*size)[0] == -1
                 ? 1
                 : 0;
    }
    if (op == "StridedSlice") {
      // Dim 0 taken whole: the first spec entry has begin and end masked and stride 1.
      const auto strides = ConstantInts(Const(3));
      const int64_t begin_mask = GetIntAttrOr(node_, "begin_mask", 0);
      const int64_t end_mask = GetIntAttrOr(node_, "end_mask", 0);
      const bool plain = GetIntAttrOr(node_, "ellipsis_mask", 0) == 0 &&
                         GetIntAttrOr(node_, "new_axis_mask", 0) == 0 &&
                         (GetIntAttrOr(node_, "shrink_axis_mask", 0) & 1) == 0;
      return OnlyInput0Rows() && plain && (begin_mask & 1) && (end_mask & 1) && strides &&
                     !strides->empty() && (*strides)[0] == 1
                 ? 1
                 : 0;
    }
    if (op == "GatherV2") {
      // An embedding lookup: rows of indices into a constant table along axis 0.
      const auto axis = ConstantInts(Const(2));
      return Constant(0) && Rows(1) && Rank(1) >= 1 && axis && axis->size() == 1 && (*axis)[0] == 0 &&
                     GetIntAttrOr(node_, "batch_dims", 0) == 0
                 ? 1
                 : 0;
    }
    if (op == "OneHot") {
      const int64_t axis = GetIntAttrOr(node_, "axis", -1);
      return OnlyInput0Rows() && Rank(0) >= 1 && (axis == -1 || axis >= 1) ? 1 : 0;
    }
    return 0;
  }

  // Einsum without ellipsis whose output's first label is the batch: first label of every row
  // input (and only there), absent from every constant input.
  int EinsumRows() const {
    const std::string equation = GetStringAttrOr(node_, "equation", "");
    const auto parsed = ParseEinsumEquation(equation);
    if (!parsed || equation.find('.') != std::string::npos) return 0;
    const std::vector<std::string>& terms = parsed->inputs;
    const std::string& out = parsed->output;
    if (out.empty() || terms.size() > in_.size()) return 0;
    const char batch = out[0];
    if (std::count(out.begin(), out.end(), batch) != 1) return 0;
    for (size_t i = 0; i < in_.size(); ++i) {
      const int idx = static_cast<int>(i);
      if (i >= terms.size()) {  // _FusedEinsum's args: constant
        if (!Constant(idx)) return 0;
        continue;
      }
      const std::string& t = terms[i];
      const auto uses = std::count(t.begin(), t.end(), batch);
      if (Rows(idx) ? (t.empty() || t[0] != batch || uses != 1) : uses != 0) return 0;
    }
    return 1;
  }

  const Node& node_;
  std::span<const RowClass> in_;
  std::span<const PartialShape> shapes_;
  std::span<const Tensor* const> constants_;
  std::span<const PartialShape> outputs_;
  int64_t scale_ = 1;  // of the row inputs; Reshape changes it for its output
};

}  // namespace

std::vector<RowClass> ClassifyRows(const Node& node, std::span<const RowClass> inputs,
                                   std::span<const PartialShape> input_shapes,
                                   std::span<const Tensor* const> constants,
                                   std::span<const PartialShape> output_shapes,
                                   std::span<const int64_t> input_scales, int64_t* output_scale) {
  int64_t scale = 1;
  std::vector<RowClass> out =
      Classifier(node, inputs, input_shapes, constants, output_shapes).Run(input_scales, &scale);
  if (output_scale != nullptr) *output_scale = scale;
  return out;
}

int64_t RowBytes(const PartialShape& shape, int64_t element_size) {
  if (shape.rank() < 1) return -1;
  int64_t bytes = element_size;
  for (int i = 1; i < shape.rank(); ++i) {
    if (shape.dim(i) < 0) return -1;
    bytes *= shape.dim(i);
  }
  return bytes;
}

int64_t L2CacheBytes() {
  static const int64_t bytes = [] {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? static_cast<int64_t>(l2) : int64_t{1} << 20;
  }();
  return bytes;
}

}  // namespace savant::engine
