// Savant's side of the ONNX Runtime comparison (bench/run.sh).
//
//   model_bench generate DIR   builds four models from one seeded generator and writes each twice:
//                              DIR/<model>/1 (a TF2 SavedModel, weights as variables) and
//                              DIR/<model>.onnx (the same graph and weights for ONNX Runtime),
//                              plus inputs at batch 1 and 32 and Savant's outputs for checking.
//   model_bench time DIR --threads=T [--seconds=S] [--model=NAME] [--batch=1|32]
//                              times Model::Run: p50/p99 latency at batch 1 and samples/s at
//                              batch 32, one JSON line per model (--batch: only that part, for
//                              profiling one batch size). Also the fastest batch-1 call and the
//                              least CPU time of one batch-32 call on the calling thread (with
//                              --threads=1, the cost of the work even while other processes
//                              take the core away).
//
// Models: an MLP 784-512-512-10, a Keras-style MNIST CNN, a MobileNet-v1-like stack of
// depthwise-separable blocks (BN + Relu6) at 96x96x3, and one post-LN transformer encoder block
// (seq 128, d_model 256, 4 heads, FFN 1024, ReLU) whose attention uses the Einsum equations Keras
// MultiHeadAttention emits. Savant graphs use the ops TensorFlow/Keras emit (MatMul + BiasAdd +
// Relu, Conv2D + FusedBatchNormV3 + Relu6, ...); the loader's fusion pass fuses them. The ONNX
// graphs use the standard ONNX ops for the same math (ORT fuses them with its own optimizer).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/onnx_subset.pb.h"
#include "engine/base/thread_pool.h"
#include "engine/tensor.h"
#include "loader/model.h"
#include "loader/saved_model_writer.h"

namespace {

namespace fs = std::filesystem;
namespace onnx = savant_bench::onnx;
using savant::engine::DataType;
using savant::engine::PartialShape;
using savant::engine::Shape;
using savant::engine::Tensor;
using savant::loader::NodeBuilder;
using Clock = std::chrono::steady_clock;

constexpr DataType kF32 = DataType::kFloat;

// ---- Weights ----

class Weights {
 public:
  explicit Weights(uint32_t seed) : rng_(seed) {}
  Tensor Uniform(const Shape& shape, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    Tensor t(kF32, shape);
    for (float& v : t.flat<float>()) v = dist(rng_);
    return t;
  }
  // Glorot-uniform over fan_in + fan_out, as Keras initialises kernels.
  Tensor Kernel(const Shape& shape, int64_t fan_in, int64_t fan_out) {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    return Uniform(shape, -limit, limit);
  }

 private:
  std::mt19937 rng_;
};

// HWIO -> OIHW (ONNX Conv weights).
Tensor ToOihw(const Tensor& hwio) {
  const int64_t h = hwio.dim(0), w = hwio.dim(1), i = hwio.dim(2), o = hwio.dim(3);
  Tensor out(kF32, Shape{o, i, h, w});
  const float* s = hwio.data<float>();
  float* d = out.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t c = 0; c < i; ++c) {
        for (int64_t k = 0; k < o; ++k) d[((k * i + c) * h + y) * w + x] = s[((y * w + x) * i + c) * o + k];
      }
    }
  }
  return out;
}

// Depthwise HWC1 -> C1HW.
Tensor DepthwiseToOnnx(const Tensor& hwc1) {
  const int64_t h = hwc1.dim(0), w = hwc1.dim(1), c = hwc1.dim(2);
  Tensor out(kF32, Shape{c, 1, h, w});
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t k = 0; k < c; ++k) out.data<float>()[(k * h + y) * w + x] = hwc1.data<float>()[(y * w + x) * c + k];
    }
  }
  return out;
}

// ---- The Savant (TensorFlow) side ----

class TfGraph {
 public:
  std::string Var(const std::string& name, const Tensor& t) {
    writer_.AddVariable(name, t);
    body_.push_back(NodeBuilder(name + "/read", "ReadVariableOp").Input(name).Type("dtype", kF32));
    return name + "/read:value:0";
  }
  std::string Const(const std::string& name, const Tensor& t) {
    body_.push_back(NodeBuilder(name, "Const").Value(t));
    return name + ":output:0";
  }
  // Adds `node` and returns its output `out_arg`:0.
  std::string Add(const NodeBuilder& node, const std::string& out_arg) {
    body_.push_back(node);
    return node.def().name() + ":" + out_arg + ":0";
  }
  absl::Status Write(const fs::path& dir, const std::string& input, const PartialShape& in_shape,
                     const std::string& output, const PartialShape& out_shape) {
    writer_.AddSignature({.key = "serving_default",
                          .inputs = {{input, kF32, in_shape}},
                          .outputs = {{"output", output, kF32, out_shape}},
                          .body = body_});
    return writer_.Write(dir);
  }

 private:
  savant::loader::SavedModelWriter writer_;
  std::vector<tensorflow::NodeDef> body_;
};

// ---- The ONNX side ----

class OnnxGraph {
 public:
  OnnxGraph() {
    model_.set_ir_version(8);
    model_.set_producer_name("savant-bench");
    auto* opset = model_.add_opset_import();
    opset->set_version(17);
    graph_ = model_.mutable_graph();
    graph_->set_name("bench");
  }
  std::string Init(const std::string& name, const Tensor& t) {
    auto* init = graph_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : t.shape().dims()) init->add_dims(d);
    init->set_raw_data(t.raw_data(), t.byte_size());
    return name;
  }
  std::string InitInt64(const std::string& name, const std::vector<int64_t>& v) {
    auto* init = graph_->add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::INT64);
    init->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) init->add_int64_data(x);
    return name;
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& inputs,
                        std::string* output) {
    auto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(op + std::to_string(graph_->node_size()));
    for (const auto& i : inputs) n->add_input(i);
    *output = n->name() + "_out";
    n->add_output(*output);
    return n;
  }
  std::string Op(const std::string& op, const std::vector<std::string>& inputs,
                 const std::function<void(onnx::NodeProto*)>& attrs = nullptr) {
    std::string out;
    auto* n = Node(op, inputs, &out);
    if (attrs) attrs(n);
    return out;
  }
  static void Ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void Float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  void Io(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (d < 0) {
        dim->set_dim_param("batch");
      } else {
        dim->set_dim_value(d);
      }
    }
  }
  std::string Dense(const std::string& x, const Tensor& k, const Tensor& b, bool relu,
                    const std::string& name) {
    std::string y = Op("MatMul", {x, Init(name + "_w", k)});
    y = Op("Add", {y, Init(name + "_b", b)});
    return relu ? Op("Relu", {y}) : y;
  }
  bool Write(const fs::path& path, const std::string& input, const std::vector<int64_t>& in_dims,
             const std::string& output, const std::vector<int64_t>& out_dims) {
    Io(graph_->add_input(), input, in_dims);
    // Rename the last node's output to the model output name.
    for (auto& n : *graph_->mutable_node()) {
      for (auto& o : *n.mutable_output()) {
        if (o == output) o = "output";
      }
      for (auto& i : *n.mutable_input()) {
        if (i == output) i = "output";
      }
    }
    Io(graph_->add_output(), "output", out_dims);
    std::ofstream f(path, std::ios::binary);
    return model_.SerializeToOstream(&f);
  }

 private:
  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
};

// ---- The four models ----

struct BuiltModel {
  std::string name;
  std::vector<int64_t> input_dims;  // without the batch
};

absl::Status BuildMlp(const fs::path& dir) {
  TfGraph tf;
  OnnxGraph ox;
  std::string t = "x", o = "x";
  const int64_t sizes[] = {784, 512, 512, 10};
  for (int i = 0; i < 3; ++i) {
    const bool relu = i < 2;
    const std::string name = "dense" + std::to_string(i);
    // Draw once, use on both sides.
    Weights wl(100 + i);
    Tensor k = wl.Kernel({sizes[i], sizes[i + 1]}, sizes[i], sizes[i + 1]);
    Tensor b = wl.Uniform({sizes[i + 1]}, -0.1f, 0.1f);
    const std::string kv = tf.Var(name + "/kernel", k), bv = tf.Var(name + "/bias", b);
    t = tf.Add(NodeBuilder(name + "/MatMul", "MatMul").Input(t).Input(kv).Type("T", kF32), "product");
    t = tf.Add(NodeBuilder(name + "/BiasAdd", "BiasAdd").Input(t).Input(bv).Type("T", kF32), "output");
    if (relu) t = tf.Add(NodeBuilder(name + "/Relu", "Relu").Input(t).Type("T", kF32), "activations");
    o = ox.Dense(o, k, b, relu, name);
  }
  if (!ox.Write(dir / "mlp.onnx", "x", {-1, 784}, o, {-1, 10})) return absl::InternalError("onnx write");
  return tf.Write(dir / "mlp" / "1", "x", PartialShape{-1, 784}, t, PartialShape{-1, 10});
}

NodeBuilder Conv(const std::string& name, const std::string& op, const std::string& x,
                 const std::string& w, int64_t stride, const std::string& padding) {
  return NodeBuilder(name, op).Input(x).Input(w).Type("T", kF32).Ints("strides", {1, stride, stride, 1})
      .String("padding", padding).String("data_format", "NHWC").Ints("dilations", {1, 1, 1, 1});
}

absl::Status BuildCnn(const fs::path& dir) {
  Weights w(2);
  TfGraph tf;
  OnnxGraph ox;
  const Tensor k1 = w.Kernel({3, 3, 1, 32}, 9, 288), b1 = w.Uniform({32}, -0.1f, 0.1f);
  const Tensor k2 = w.Kernel({3, 3, 32, 64}, 288, 576), b2 = w.Uniform({64}, -0.1f, 0.1f);
  const Tensor k3 = w.Kernel({9216, 128}, 9216, 128), b3 = w.Uniform({128}, -0.1f, 0.1f);
  const Tensor k4 = w.Kernel({128, 10}, 128, 10), b4 = w.Uniform({10}, -0.1f, 0.1f);
  // Savant: Keras's Conv2D/MaxPooling2D/Flatten/Dense graph, NHWC.
  std::string t = "x";
  t = tf.Add(Conv("conv1/Conv2D", "Conv2D", t, tf.Var("conv1/kernel", k1), 1, "VALID"), "output");
  t = tf.Add(NodeBuilder("conv1/BiasAdd", "BiasAdd").Input(t).Input(tf.Var("conv1/bias", b1)).Type("T", kF32), "output");
  t = tf.Add(NodeBuilder("conv1/Relu", "Relu").Input(t).Type("T", kF32), "activations");
  t = tf.Add(Conv("conv2/Conv2D", "Conv2D", t, tf.Var("conv2/kernel", k2), 1, "VALID"), "output");
  t = tf.Add(NodeBuilder("conv2/BiasAdd", "BiasAdd").Input(t).Input(tf.Var("conv2/bias", b2)).Type("T", kF32), "output");
  t = tf.Add(NodeBuilder("conv2/Relu", "Relu").Input(t).Type("T", kF32), "activations");
  t = tf.Add(NodeBuilder("pool/MaxPool", "MaxPool").Input(t).Type("T", kF32).Ints("ksize", {1, 2, 2, 1})
                 .Ints("strides", {1, 2, 2, 1}).String("padding", "VALID").String("data_format", "NHWC"),
             "output");
  const std::string shape =
      tf.Const("flatten/shape", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2}, {-1, 9216}));
  t = tf.Add(NodeBuilder("flatten/Reshape", "Reshape").Input(t).Input(shape).Type("T", kF32)
                 .Type("Tshape", DataType::kInt32), "output");
  auto dense = [&](const std::string& name, const std::string& x, const Tensor& k, const Tensor& b,
                   bool relu) {
    std::string y = tf.Add(NodeBuilder(name + "/MatMul", "MatMul").Input(x).Input(tf.Var(name + "/kernel", k)).Type("T", kF32), "product");
    y = tf.Add(NodeBuilder(name + "/BiasAdd", "BiasAdd").Input(y).Input(tf.Var(name + "/bias", b)).Type("T", kF32), "output");
    if (relu) y = tf.Add(NodeBuilder(name + "/Relu", "Relu").Input(y).Type("T", kF32), "activations");
    return y;
  };
  t = dense("dense1", t, k3, b3, true);
  t = dense("dense2", t, k4, b4, false);
  t = tf.Add(NodeBuilder("softmax", "Softmax").Input(t).Type("T", kF32), "softmax");
  // ONNX: NCHW convolutions between layout transposes; flatten in NHWC order as Keras does.
  std::string o = ox.Op("Transpose", {"x"}, [](auto* n) { OnnxGraph::Ints(n, "perm", {0, 3, 1, 2}); });
  o = ox.Op("Conv", {o, ox.Init("k1", ToOihw(k1)), ox.Init("b1", b1)}, [](auto* n) { OnnxGraph::Ints(n, "kernel_shape", {3, 3}); });
  o = ox.Op("Relu", {o});
  o = ox.Op("Conv", {o, ox.Init("k2", ToOihw(k2)), ox.Init("b2", b2)}, [](auto* n) { OnnxGraph::Ints(n, "kernel_shape", {3, 3}); });
  o = ox.Op("Relu", {o});
  o = ox.Op("MaxPool", {o}, [](auto* n) {
    OnnxGraph::Ints(n, "kernel_shape", {2, 2});
    OnnxGraph::Ints(n, "strides", {2, 2});
  });
  o = ox.Op("Transpose", {o}, [](auto* n) { OnnxGraph::Ints(n, "perm", {0, 2, 3, 1}); });
  o = ox.Op("Reshape", {o, ox.InitInt64("flat", {-1, 9216})});
  o = ox.Dense(o, k3, b3, true, "d1");
  o = ox.Dense(o, k4, b4, false, "d2");
  o = ox.Op("Softmax", {o}, [](auto* n) { OnnxGraph::Int(n, "axis", -1); });
  if (!ox.Write(dir / "cnn.onnx", "x", {-1, 28, 28, 1}, o, {-1, 10})) return absl::InternalError("onnx write");
  return tf.Write(dir / "cnn" / "1", "x", PartialShape{-1, 28, 28, 1}, t, PartialShape{-1, 10});
}

// SAME padding of a k=3 window as TensorFlow computes it: [before, after].
std::pair<int64_t, int64_t> SamePad(int64_t in, int64_t stride) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t needed = std::max<int64_t>(0, (out - 1) * stride + 3 - in);
  return {needed / 2, needed - needed / 2};
}

absl::Status BuildMobileNet(const fs::path& dir) {
  Weights w(3);
  TfGraph tf;
  OnnxGraph ox;
  std::string t = "x";
  std::string o = ox.Op("Transpose", {"x"}, [](auto* n) { OnnxGraph::Ints(n, "perm", {0, 3, 1, 2}); });
  int64_t size = 96, channels = 3;
  int layer = 0;
  const std::string zero = ox.Init("zero", Tensor::FromVector<float>(kF32, Shape{}, {0}));
  const std::string six = ox.Init("six", Tensor::FromVector<float>(kF32, Shape{}, {6}));
  // One convolution (regular or depthwise) + BatchNorm + Relu6 on both sides.
  auto conv_bn = [&](int64_t out_c, int64_t k, int64_t stride, bool depthwise) {
    const std::string name = "layer" + std::to_string(layer++);
    const Tensor kernel = depthwise ? w.Kernel({k, k, channels, 1}, k * k, k * k)
                                    : w.Kernel({k, k, channels, out_c}, k * k * channels, k * k * out_c);
    const int64_t oc = depthwise ? channels : out_c;
    const Tensor gamma = w.Uniform({oc}, 0.5f, 1.5f), beta = w.Uniform({oc}, -0.1f, 0.1f);
    const Tensor mean = w.Uniform({oc}, -0.1f, 0.1f), var = w.Uniform({oc}, 0.5f, 1.5f);
    t = tf.Add(Conv(name + "/conv", depthwise ? "DepthwiseConv2dNative" : "Conv2D", t,
                    tf.Var(name + "/kernel", kernel), stride, "SAME"),
               "output");
    t = tf.Add(NodeBuilder(name + "/bn", "FusedBatchNormV3").Input(t)
                   .Input(tf.Var(name + "/gamma", gamma)).Input(tf.Var(name + "/beta", beta))
                   .Input(tf.Var(name + "/moving_mean", mean)).Input(tf.Var(name + "/moving_variance", var))
                   .Type("T", kF32).Type("U", kF32).Float("epsilon", 1e-3f).Bool("is_training", false)
                   .String("data_format", "NHWC").Float("exponential_avg_factor", 1.0f),
               "y");
    t = tf.Add(NodeBuilder(name + "/relu6", "Relu6").Input(t).Type("T", kF32), "activations");
    const auto pad = k == 1 ? std::pair<int64_t, int64_t>{0, 0} : SamePad(size, stride);
    o = ox.Op("Conv", {o, ox.Init(name + "_w", depthwise ? DepthwiseToOnnx(kernel) : ToOihw(kernel))},
              [&](auto* n) {
                OnnxGraph::Ints(n, "kernel_shape", {k, k});
                OnnxGraph::Ints(n, "strides", {stride, stride});
                OnnxGraph::Ints(n, "pads", {pad.first, pad.first, pad.second, pad.second});
                if (depthwise) OnnxGraph::Int(n, "group", channels);
              });
    o = ox.Op("BatchNormalization", {o, ox.Init(name + "_g", gamma), ox.Init(name + "_b", beta),
                                     ox.Init(name + "_m", mean), ox.Init(name + "_v", var)},
              [](auto* n) { OnnxGraph::Float(n, "epsilon", 1e-3f); });
    o = ox.Op("Clip", {o, zero, six});
    size = (size + stride - 1) / stride;
    channels = oc;
  };
  conv_bn(32, 3, 2, false);
  for (auto [stride, out_c] : {std::pair<int64_t, int64_t>{1, 64}, {2, 128}, {1, 128}, {2, 256}, {1, 256}}) {
    conv_bn(channels, 3, stride, true);
    conv_bn(out_c, 1, 1, false);
  }
  const Tensor k = w.Kernel({256, 10}, 256, 10), b = w.Uniform({10}, -0.1f, 0.1f);
  const std::string axes =
      tf.Const("pool/axes", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2}, {1, 2}));
  t = tf.Add(NodeBuilder("pool/Mean", "Mean").Input(t).Input(axes).Type("T", kF32)
                 .Type("Tidx", DataType::kInt32).Bool("keep_dims", false), "output");
  t = tf.Add(NodeBuilder("head/MatMul", "MatMul").Input(t).Input(tf.Var("head/kernel", k)).Type("T", kF32), "product");
  t = tf.Add(NodeBuilder("head/BiasAdd", "BiasAdd").Input(t).Input(tf.Var("head/bias", b)).Type("T", kF32), "output");
  t = tf.Add(NodeBuilder("softmax", "Softmax").Input(t).Type("T", kF32), "softmax");
  o = ox.Op("GlobalAveragePool", {o});
  o = ox.Op("Flatten", {o});
  o = ox.Dense(o, k, b, false, "head");
  o = ox.Op("Softmax", {o}, [](auto* n) { OnnxGraph::Int(n, "axis", -1); });
  if (!ox.Write(dir / "mobilenet.onnx", "x", {-1, 96, 96, 3}, o, {-1, 10})) return absl::InternalError("onnx write");
  return tf.Write(dir / "mobilenet" / "1", "x", PartialShape{-1, 96, 96, 3}, t, PartialShape{-1, 10});
}

absl::Status BuildTransformer(const fs::path& dir) {
  constexpr int64_t kSeq = 128, kModel = 256, kHeads = 4, kHeadDim = 64, kFfn = 1024;
  Weights w(4);
  TfGraph tf;
  OnnxGraph ox;
  auto f32 = [](const char* op, const std::string& name) { return NodeBuilder(name, op).Type("T", kF32); };
  // Attention projections, Keras EinsumDense layout: [d_model, heads, head_dim] and back.
  Tensor wq = w.Kernel({kModel, kHeads, kHeadDim}, kModel, kModel), bq = w.Uniform({kHeads, kHeadDim}, -0.1f, 0.1f);
  Tensor wk = w.Kernel({kModel, kHeads, kHeadDim}, kModel, kModel), bk = w.Uniform({kHeads, kHeadDim}, -0.1f, 0.1f);
  Tensor wv = w.Kernel({kModel, kHeads, kHeadDim}, kModel, kModel), bv = w.Uniform({kHeads, kHeadDim}, -0.1f, 0.1f);
  Tensor wo = w.Kernel({kHeads, kHeadDim, kModel}, kModel, kModel), bo = w.Uniform({kModel}, -0.1f, 0.1f);
  Tensor g1 = w.Uniform({kModel}, 0.8f, 1.2f), be1 = w.Uniform({kModel}, -0.1f, 0.1f);
  Tensor w1 = w.Kernel({kModel, kFfn}, kModel, kFfn), b1 = w.Uniform({kFfn}, -0.1f, 0.1f);
  Tensor w2 = w.Kernel({kFfn, kModel}, kFfn, kModel), b2 = w.Uniform({kModel}, -0.1f, 0.1f);
  Tensor g2 = w.Uniform({kModel}, 0.8f, 1.2f), be2 = w.Uniform({kModel}, -0.1f, 0.1f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));

  // ---- Savant ----
  auto einsum = [&](const std::string& name, const std::string& eq, const std::string& a, const std::string& b) {
    return tf.Add(f32("Einsum", name).Input(a).Input(b).String("equation", eq).Int("N", 2), "output");
  };
  auto add = [&](const std::string& name, const std::string& a, const std::string& b) {
    return tf.Add(f32("AddV2", name).Input(a).Input(b), "z");
  };
  auto mul = [&](const std::string& name, const std::string& a, const std::string& b) {
    return tf.Add(f32("Mul", name).Input(a).Input(b), "z");
  };
  const std::string last_axis = tf.Const("axis", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{1}, {-1}));
  const std::string eps = tf.Const("eps", Tensor::FromVector<float>(kF32, Shape{}, {1e-3f}));
  // LayerNormalization as tf.nn.moments + batch_normalization.
  auto layer_norm = [&](const std::string& name, const std::string& x, const Tensor& gamma, const Tensor& beta) {
    const std::string mean = tf.Add(f32("Mean", name + "/mean").Input(x).Input(last_axis)
                                        .Type("Tidx", DataType::kInt32).Bool("keep_dims", true), "output");
    const std::string sq = tf.Add(f32("SquaredDifference", name + "/sq").Input(x).Input(mean), "z");
    const std::string var = tf.Add(f32("Mean", name + "/var").Input(sq).Input(last_axis)
                                       .Type("Tidx", DataType::kInt32).Bool("keep_dims", true), "output");
    const std::string rs = tf.Add(f32("Rsqrt", name + "/rsqrt").Input(add(name + "/add_eps", var, eps)), "y");
    const std::string s = mul(name + "/scale", rs, tf.Var(name + "/gamma", gamma));
    const std::string xs = mul(name + "/x_scaled", x, s);
    const std::string shift = tf.Add(f32("Sub", name + "/shift").Input(tf.Var(name + "/beta", beta))
                                         .Input(mul(name + "/mean_scaled", mean, s)), "z");
    return add(name + "/out", xs, shift);
  };
  std::string q = add("q/add", einsum("q/einsum", "abc,cde->abde", "x", tf.Var("q/kernel", wq)), tf.Var("q/bias", bq));
  std::string k = add("k/add", einsum("k/einsum", "abc,cde->abde", "x", tf.Var("k/kernel", wk)), tf.Var("k/bias", bk));
  std::string v = add("v/add", einsum("v/einsum", "abc,cde->abde", "x", tf.Var("v/kernel", wv)), tf.Var("v/bias", bv));
  q = mul("q/scale", q, tf.Const("q_scale", Tensor::FromVector<float>(kF32, Shape{}, {scale})));
  std::string s = einsum("scores", "aecd,abcd->acbe", k, q);
  s = tf.Add(f32("Softmax", "softmax").Input(s), "softmax");
  std::string c = einsum("context", "acbe,aecd->abcd", s, v);
  std::string a = add("o/add", einsum("o/einsum", "abcd,cde->abe", c, tf.Var("o/kernel", wo)), tf.Var("o/bias", bo));
  std::string x1 = layer_norm("ln1", add("res1", "x", a), g1, be1);
  const std::string flat = tf.Const("flat", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2}, {-1, kModel}));
  const std::string unflat = tf.Const("unflat", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{3}, {-1, kSeq, kModel}));
  std::string f = tf.Add(f32("Reshape", "ffn/flat").Input(x1).Input(flat).Type("Tshape", DataType::kInt32), "output");
  f = tf.Add(f32("MatMul", "ffn1/MatMul").Input(f).Input(tf.Var("ffn1/kernel", w1)), "product");
  f = tf.Add(f32("BiasAdd", "ffn1/BiasAdd").Input(f).Input(tf.Var("ffn1/bias", b1)), "output");
  f = tf.Add(f32("Relu", "ffn1/Relu").Input(f), "activations");
  f = tf.Add(f32("MatMul", "ffn2/MatMul").Input(f).Input(tf.Var("ffn2/kernel", w2)), "product");
  f = tf.Add(f32("BiasAdd", "ffn2/BiasAdd").Input(f).Input(tf.Var("ffn2/bias", b2)), "output");
  f = tf.Add(f32("Reshape", "ffn/unflat").Input(f).Input(unflat).Type("Tshape", DataType::kInt32), "output");
  std::string y = layer_norm("ln2", add("res2", x1, f), g2, be2);

  // ---- ONNX: the same math with MatMul/Transpose attention and decomposed LayerNorm ----
  auto reshaped = [](const Tensor& t, const Shape& s) { return *t.Reshaped(s); };
  auto proj = [&](const std::string& name, const Tensor& kw, const Tensor& kb, const std::vector<int64_t>& perm) {
    std::string p = ox.Op("MatMul", {"x", ox.Init(name + "_w", reshaped(kw, {kModel, kModel}))});
    p = ox.Op("Add", {p, ox.Init(name + "_b", reshaped(kb, {kModel}))});
    p = ox.Op("Reshape", {p, ox.InitInt64(name + "_shape", {-1, kSeq, kHeads, kHeadDim})});
    return ox.Op("Transpose", {p}, [&](auto* n) { OnnxGraph::Ints(n, "perm", perm); });
  };
  std::string oq = proj("q", wq, bq, {0, 2, 1, 3});
  oq = ox.Op("Mul", {oq, ox.Init("scale", Tensor::FromVector<float>(kF32, Shape{}, {scale}))});
  const std::string ok = proj("k", wk, bk, {0, 2, 3, 1});
  const std::string ov = proj("v", wv, bv, {0, 2, 1, 3});
  std::string os = ox.Op("MatMul", {oq, ok});
  os = ox.Op("Softmax", {os}, [](auto* n) { OnnxGraph::Int(n, "axis", -1); });
  std::string oc = ox.Op("MatMul", {os, ov});
  oc = ox.Op("Transpose", {oc}, [](auto* n) { OnnxGraph::Ints(n, "perm", {0, 2, 1, 3}); });
  oc = ox.Op("Reshape", {oc, ox.InitInt64("ctx_shape", {-1, kSeq, kModel})});
  std::string oa = ox.Op("MatMul", {oc, ox.Init("o_w", reshaped(wo, {kModel, kModel}))});
  oa = ox.Op("Add", {oa, ox.Init("o_b", bo)});
  const std::string two = ox.Init("two", Tensor::FromVector<float>(kF32, Shape{}, {2}));
  const std::string oeps = ox.Init("eps", Tensor::FromVector<float>(kF32, Shape{}, {1e-3f}));
  auto onnx_ln = [&](const std::string& name, const std::string& x, const Tensor& gamma, const Tensor& beta) {
    auto reduce = [&](const std::string& in) {
      return ox.Op("ReduceMean", {in}, [](auto* n) {
        OnnxGraph::Ints(n, "axes", {-1});
        OnnxGraph::Int(n, "keepdims", 1);
      });
    };
    const std::string mean = reduce(x);
    const std::string d = ox.Op("Sub", {x, mean});
    const std::string var = reduce(ox.Op("Pow", {d, two}));
    const std::string sd = ox.Op("Sqrt", {ox.Op("Add", {var, oeps})});
    std::string r = ox.Op("Div", {d, sd});
    r = ox.Op("Mul", {r, ox.Init(name + "_g", gamma)});
    return ox.Op("Add", {r, ox.Init(name + "_b", beta)});
  };
  const std::string ox1 = onnx_ln("ln1", ox.Op("Add", {"x", oa}), g1, be1);
  std::string of = ox.Dense(ox1, w1, b1, true, "ffn1");
  of = ox.Dense(of, w2, b2, false, "ffn2");
  const std::string oy = onnx_ln("ln2", ox.Op("Add", {ox1, of}), g2, be2);
  if (!ox.Write(dir / "transformer.onnx", "x", {-1, kSeq, kModel}, oy, {-1, kSeq, kModel})) {
    return absl::InternalError("onnx write");
  }
  return tf.Write(dir / "transformer" / "1", "x", PartialShape{-1, kSeq, kModel}, y,
                  PartialShape{-1, kSeq, kModel});
}

const std::vector<BuiltModel>& Models() {
  static const std::vector<BuiltModel> models = {{"mlp", {784}},
                                                 {"cnn", {28, 28, 1}},
                                                 {"mobilenet", {96, 96, 3}},
                                                 {"transformer", {128, 256}}};
  return models;
}

Tensor Input(const BuiltModel& m, int64_t batch) {
  Shape s{batch};
  for (int64_t d : m.input_dims) s.AddDim(d);
  return Weights(7 + static_cast<uint32_t>(batch)).Uniform(s, -1, 1);
}

void WriteRaw(const fs::path& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.byte_size()));
}

absl::StatusOr<Tensor> RunOnce(const savant::loader::Model& model, const Tensor& x) {
  auto out = model.Run("serving_default", {{"x", x}});
  if (!out.ok()) return out.status();
  return out->at(0).second;
}

int Generate(const fs::path& dir) {
  fs::create_directories(dir);
  for (auto* build : {BuildMlp, BuildCnn, BuildMobileNet, BuildTransformer}) {
    absl::Status st = build(dir);
    if (!st.ok()) {
      std::fprintf(stderr, "generate: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  std::ofstream manifest(dir / "manifest.json");
  manifest << "[";
  bool first = true;
  for (const auto& m : Models()) {
    auto model = savant::loader::Model::Load(dir / m.name / "1");
    if (!model.ok()) {
      std::fprintf(stderr, "load %s: %s\n", m.name.c_str(), std::string(model.status().message()).c_str());
      return 1;
    }
    std::string ops;
    for (const auto& op : (*model)->signatures().at("serving_default").function->step_ops()) ops += op + " ";
    std::printf("%s: savant steps: %s\n", m.name.c_str(), ops.c_str());
    for (int64_t batch : {1, 32}) {
      const Tensor x = Input(m, batch);
      auto y = RunOnce(**model, x);
      if (!y.ok()) {
        std::fprintf(stderr, "run %s: %s\n", m.name.c_str(), std::string(y.status().message()).c_str());
        return 1;
      }
      WriteRaw(dir / (m.name + ".b" + std::to_string(batch) + ".in"), x);
      WriteRaw(dir / (m.name + ".b" + std::to_string(batch) + ".savant_out"), *y);
      manifest << (first ? "" : ",") << "\n  {\"name\": \"" << m.name << "\", \"batch\": " << batch
               << ", \"input_shape\": [";
      for (int i = 0; i < x.rank(); ++i) manifest << (i ? ", " : "") << x.dim(i);
      manifest << "], \"output_shape\": [";
      for (int i = 0; i < y->rank(); ++i) manifest << (i ? ", " : "") << y->dim(i);
      manifest << "]}";
      first = false;
    }
  }
  manifest << "\n]\n";
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Time(const fs::path& dir, int threads, double seconds, const std::string& only,
         int64_t only_batch, bool batch_split) {
  savant::ThreadPool::SetDefaultThreadCount(threads);
  for (const auto& m : Models()) {
    if (!only.empty() && m.name != only) continue;
    auto model = savant::loader::Model::Load(dir / m.name / "1", {.batch_split = batch_split});
    if (!model.ok()) {
      std::fprintf(stderr, "load %s: %s\n", m.name.c_str(), std::string(model.status().message()).c_str());
      return 1;
    }
    const Tensor x1 = Input(m, 1), x32 = Input(m, 32);
    // Batch 1: per-call latency.
    for (int i = 0; i < 20 && only_batch != 32; ++i) (void)RunOnce(**model, x1);
    std::vector<double> lat = {0};
    if (only_batch != 32) lat.clear();
    const auto end1 = Clock::now() + std::chrono::duration<double>(seconds);
    while (only_batch != 32 && (Clock::now() < end1 || lat.size() < 50)) {
      const auto t0 = Clock::now();
      auto y = RunOnce(**model, x1);
      lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (!y.ok()) return 1;
    }
    // Batch 32: throughput over back-to-back calls.
    for (int i = 0; i < 3 && only_batch != 1; ++i) (void)RunOnce(**model, x32);
    int64_t calls = 0;
    const auto t0 = Clock::now();
    const auto end32 = t0 + std::chrono::duration<double>(seconds);
    double best32 = 0;
    auto cpu_us = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
    };
    while (only_batch != 1 && (Clock::now() < end32 || calls < 5)) {
      const double c0 = cpu_us();
      if (!RunOnce(**model, x32).ok()) return 1;
      const double us = cpu_us() - c0;
      best32 = calls == 0 ? us : std::min(best32, us);
      ++calls;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("{\"engine\": \"savant\", \"model\": \"%s\", \"threads\": %d, \"p50_us\": %.1f, "
                "\"p99_us\": %.1f, \"b32_samples_per_s\": %.1f, \"b1_best_us\": %.1f, "
                "\"b32_best_cpu_us\": %.1f}\n",
                m.name.c_str(), threads, Percentile(lat, 0.5), Percentile(lat, 0.99),
                32.0 * static_cast<double>(calls) / elapsed, Percentile(lat, 0), best32);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: model_bench generate DIR | time DIR --threads=T [--seconds=S] [--model=NAME] [--batch=1|32] [--batch_split=0]\n");
    return 2;
  }
  const std::string cmd = argv[1];
  const fs::path dir = argv[2];
  int threads = 1;
  double seconds = 1.0;
  std::string only;
  int64_t only_batch = 0;
  bool batch_split = true;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) threads = std::stoi(arg.substr(10));
    if (arg.rfind("--seconds=", 0) == 0) seconds = std::stod(arg.substr(10));
    if (arg.rfind("--model=", 0) == 0) only = arg.substr(8);
    if (arg.rfind("--batch=", 0) == 0) only_batch = std::stoi(arg.substr(8));
    if (arg == "--batch_split=0") batch_split = false;
  }
  if (cmd == "generate") return Generate(dir);
  if (cmd == "time") return Time(dir, threads, seconds, only, only_batch, batch_split);
  std::fprintf(stderr, "unknown command \"%s\"\n", cmd.c_str());
  return 2;
}
