// Replays the op goldens of tests/golden/ops/*.json (written by generate.js from TensorFlow.js, or
// by hand from TensorFlow's kernels where tfjs differs) through the engine: each case becomes a
// one-node GraphDef (Placeholders feeding the op with the case's attrs), compiled by
// engine::Function::Compile and run. Outputs must match within the file's (or the case's) float
// tolerance and exactly for integers, bools and strings; error cases must fail with the code and a
// message containing the expected text. A file whose op has no registered kernel fails.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/function.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"
#include "engine/tensor_proto.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tensorflow/core/framework/graph.pb.h"

namespace savant::engine {
namespace {

std::filesystem::path GoldenDir() { return SAVANT_GOLDEN_DIR; }

std::vector<std::string> GoldenFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(GoldenDir(), ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<DataType> ParseDataType(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(DataType::kUInt64); ++i) {
    if (DataTypeName(static_cast<DataType>(i)) == name) return static_cast<DataType>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype \"", name, "\""));
}

double NumberOf(const rapidjson::Value& v) {
  if (v.IsString()) {
    const std::string s = v.GetString();
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return HUGE_VAL;
    if (s == "-Infinity") return -HUGE_VAL;
    ADD_FAILURE() << "bad number \"" << s << "\"";
    return 0;
  }
  if (v.IsBool()) return v.GetBool() ? 1 : 0;
  return v.GetDouble();
}

absl::StatusOr<Tensor> ParseTensor(const rapidjson::Value& v) {
  auto dtype = ParseDataType(v["dtype"].GetString());
  if (!dtype.ok()) return dtype.status();
  Shape shape;
  for (const auto& d : v["shape"].GetArray()) shape.AddDim(d.GetInt64());
  if (*dtype == DataType::kResource) {
    // The handle of a resource variable holding v["variable"] (ResourceGather's params).
    if (!v.HasMember("variable") || shape.rank() != 0) {
      return absl::InvalidArgumentError("a DT_RESOURCE input must be a scalar with a \"variable\"");
    }
    auto value = ParseTensor(v["variable"]);
    if (!value.ok()) return value.status();
    auto var = std::make_shared<Variable>("golden_variable", value->dtype(),
                                          PartialShape(value->shape()));
    if (absl::Status s = var->Assign(*std::move(value)); !s.ok()) return s;
    Tensor handle(DataType::kResource, Shape{});
    handle.scalar<ResourceHandle>() = std::move(var);
    return handle;
  }
  Tensor t(*dtype, shape);
  const auto& values = v["values"].GetArray();
  if (static_cast<int64_t>(values.Size()) != t.num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat("values has ", values.Size(), " elements for ",
                                                   shape.DebugString()));
  }
  for (rapidjson::SizeType i = 0; i < values.Size(); ++i) {
    const rapidjson::Value& x = values[i];
    switch (*dtype) {
      case DataType::kFloat:
        t.data<float>()[i] = static_cast<float>(NumberOf(x));
        break;
      case DataType::kDouble:
        t.data<double>()[i] = NumberOf(x);
        break;
      case DataType::kHalf:
        t.data<uint16_t>()[i] = FloatToHalfBits(static_cast<float>(NumberOf(x)));
        break;
      case DataType::kBFloat16:
        t.data<uint16_t>()[i] = FloatToBFloat16Bits(static_cast<float>(NumberOf(x)));
        break;
      case DataType::kInt32:
        t.data<int32_t>()[i] = x.GetInt();
        break;
      case DataType::kInt64:
        t.data<int64_t>()[i] = x.GetInt64();
        break;
      case DataType::kUInt8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(x.GetInt());
        break;
      case DataType::kBool:
        t.data<bool>()[i] = x.IsBool() ? x.GetBool() : x.GetInt() != 0;
        break;
      case DataType::kString:
        t.data<std::string>()[i] = x.GetString();
        break;
      default:
        return absl::UnimplementedError(absl::StrCat("dtype ", DataTypeName(*dtype)));
    }
  }
  return t;
}

tensorflow::DataType ProtoType(const std::string& name) {
  auto dtype = ParseDataType(name);
  EXPECT_TRUE(dtype.ok()) << dtype.status();
  return static_cast<tensorflow::DataType>(dtype.ok() ? *dtype : DataType::kInvalid);
}

// The JSON attr forms of generate.js: {"type"}, {"i"}, {"f"}, {"b"}, {"s"}, {"ilist"}, {"flist"},
// {"tlist"}, {"slist"}, {"shape"}.
tensorflow::AttrValue ParseAttr(const rapidjson::Value& v) {
  tensorflow::AttrValue a;
  if (v.HasMember("type")) {
    a.set_type(ProtoType(v["type"].GetString()));
  } else if (v.HasMember("i")) {
    a.set_i(v["i"].GetInt64());
  } else if (v.HasMember("f")) {
    a.set_f(static_cast<float>(v["f"].GetDouble()));
  } else if (v.HasMember("b")) {
    a.set_b(v["b"].GetBool());
  } else if (v.HasMember("s")) {
    a.set_s(v["s"].GetString());
  } else if (v.HasMember("ilist")) {
    a.mutable_list();
    for (const auto& x : v["ilist"].GetArray()) a.mutable_list()->add_i(x.GetInt64());
  } else if (v.HasMember("flist")) {
    a.mutable_list();
    for (const auto& x : v["flist"].GetArray()) a.mutable_list()->add_f(static_cast<float>(x.GetDouble()));
  } else if (v.HasMember("tlist")) {
    a.mutable_list();
    for (const auto& x : v["tlist"].GetArray()) a.mutable_list()->add_type(ProtoType(x.GetString()));
  } else if (v.HasMember("slist")) {
    a.mutable_list();
    for (const auto& x : v["slist"].GetArray()) a.mutable_list()->add_s(x.GetString());
  } else if (v.HasMember("shape")) {
    if (v["shape"].IsNull()) {
      a.mutable_shape()->set_unknown_rank(true);
    } else {
      for (const auto& d : v["shape"].GetArray()) a.mutable_shape()->add_dim()->set_size(d.GetInt64());
    }
  } else {
    ADD_FAILURE() << "unknown attr form";
  }
  return a;
}

struct Tolerance {
  double rel = 0;
  double abs = 0;
};

Tolerance ParseTolerance(const rapidjson::Value& v, Tolerance fallback) {
  if (!v.IsObject()) return fallback;
  return {v["rel"].GetDouble(), v["abs"].GetDouble()};
}

// Float value of element i of a float-like tensor.
double FloatAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat:
      return t.data<float>()[i];
    case DataType::kDouble:
      return t.data<double>()[i];
    case DataType::kHalf:
      return HalfBitsToFloat(t.data<uint16_t>()[i]);
    case DataType::kBFloat16:
      return BFloat16BitsToFloat(t.data<uint16_t>()[i]);
    default:
      return 0;
  }
}

void ExpectMatches(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what) {
  ASSERT_EQ(std::string(DataTypeName(got.dtype())), std::string(DataTypeName(want.dtype()))) << what;
  ASSERT_EQ(got.shape().DebugString(), want.shape().DebugString()) << what;
  int failures = 0;
  for (int64_t i = 0; i < want.num_elements() && failures < 5; ++i) {
    switch (want.dtype()) {
      case DataType::kFloat:
      case DataType::kDouble:
      case DataType::kHalf:
      case DataType::kBFloat16: {
        const double g = FloatAt(got, i);
        const double w = FloatAt(want, i);
        bool ok;
        if (std::isnan(w)) {
          ok = std::isnan(g);
        } else if (std::isinf(w)) {
          ok = g == w;
        } else {
          ok = std::fabs(g - w) <= tol.abs + tol.rel * std::fabs(w);
        }
        if (!ok) {
          ADD_FAILURE() << what << " element " << i << ": got " << g << ", want " << w
                        << " (rel " << tol.rel << ", abs " << tol.abs << ")";
          ++failures;
        }
        break;
      }
      case DataType::kInt32:
        if (got.data<int32_t>()[i] != want.data<int32_t>()[i]) {
          ADD_FAILURE() << what << " element " << i << ": got " << got.data<int32_t>()[i]
                        << ", want " << want.data<int32_t>()[i];
          ++failures;
        }
        break;
      case DataType::kInt64:
        if (got.data<int64_t>()[i] != want.data<int64_t>()[i]) {
          ADD_FAILURE() << what << " element " << i << ": got " << got.data<int64_t>()[i]
                        << ", want " << want.data<int64_t>()[i];
          ++failures;
        }
        break;
      case DataType::kUInt8:
        if (got.data<uint8_t>()[i] != want.data<uint8_t>()[i]) {
          ADD_FAILURE() << what << " element " << i;
          ++failures;
        }
        break;
      case DataType::kBool:
        if (got.data<bool>()[i] != want.data<bool>()[i]) {
          ADD_FAILURE() << what << " element " << i << ": got " << got.data<bool>()[i]
                        << ", want " << want.data<bool>()[i];
          ++failures;
        }
        break;
      case DataType::kString:
        if (got.data<std::string>()[i] != want.data<std::string>()[i]) {
          ADD_FAILURE() << what << " element " << i << ": got \"" << got.data<std::string>()[i]
                        << "\", want \"" << want.data<std::string>()[i] << "\"";
          ++failures;
        }
        break;
      default:
        ADD_FAILURE() << what << ": cannot compare " << DataTypeName(want.dtype());
        return;
    }
  }
}

absl::StatusCode ParseCode(const std::string& code) {
  if (code == "INVALID_ARGUMENT") return absl::StatusCode::kInvalidArgument;
  if (code == "UNIMPLEMENTED") return absl::StatusCode::kUnimplemented;
  if (code == "FAILED_PRECONDITION") return absl::StatusCode::kFailedPrecondition;
  ADD_FAILURE() << "unknown code " << code;
  return absl::StatusCode::kUnknown;
}

// How a case is run.
enum class Mode {
  kFed,          // every input fed
  kConstant,     // inputs after the first are Const nodes, as a model's weights are: kernels take
                 // their load-time paths (packed filters, folded batch norms, Winograd transforms)
  kSplitByRow,   // as kConstant, with input 0 declared [?, ...] and the batch split forced into
                 // slices of one row wherever the op is classified row-wise (engine/batch_split.h)
};

// Builds, compiles and runs one case; returns the run's status and fills `outputs`. `split_steps`
// receives the compiled function's split_steps().
absl::Status RunCase(const std::string& op, const rapidjson::Value& c, std::vector<Tensor>* inputs,
                     std::vector<int>* ports, std::vector<Tensor>* outputs, Mode mode,
                     int* split_steps) {
  const bool constant_weights = mode != Mode::kFed;
  tensorflow::GraphDef graph_def;
  tensorflow::NodeDef* node = nullptr;
  FunctionSpec spec;
  const auto& in = c["inputs"].GetArray();
  for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
    auto t = ParseTensor(in[i]);
    if (!t.ok()) return t.status();
    inputs->push_back(*std::move(t));
    tensorflow::NodeDef* p = graph_def.add_node();
    p->set_name(absl::StrCat("input", i));
    (*p->mutable_attr())["dtype"].set_type(static_cast<tensorflow::DataType>(inputs->back().dtype()));
    if (constant_weights && i > 0) {
      p->set_op("Const");
      TensorToProto(inputs->back(), (*p->mutable_attr())["value"].mutable_tensor());
      continue;
    }
    p->set_op("Placeholder");
    spec.feeds.push_back(absl::StrCat("input", i, ":0"));
  }
  if (constant_weights && inputs->size() > 1) inputs->resize(1);
  node = graph_def.add_node();
  node->set_name("node");
  node->set_op(op);
  for (rapidjson::SizeType i = 0; i < in.Size(); ++i) node->add_input(absl::StrCat("input", i));
  for (const auto& attr : c["attrs"].GetObject()) {
    (*node->mutable_attr())[attr.name.GetString()] = ParseAttr(attr.value);
  }
  // Every output port up to num_outputs is fetched (so the kernel gets all its output slots);
  // only the listed ones are compared.
  // Error cases list no outputs: output 0 is fetched so the node runs. Ops without outputs
  // (Assert) say "num_outputs": 0 and run as a target.
  int num_outputs = c.HasMember("num_outputs") ? c["num_outputs"].GetInt() : 1;
  if (c.HasMember("outputs")) {
    for (const auto& o : c["outputs"].GetArray()) {
      num_outputs = std::max(num_outputs, o["port"].GetInt() + 1);
    }
  }
  for (int p = 0; p < num_outputs; ++p) {
    spec.fetches.push_back(absl::StrCat("node:", p));
    ports->push_back(p);
  }
  if (num_outputs == 0) spec.targets.push_back("node");
  auto graph = Graph::Import(graph_def, std::make_shared<FunctionLibrary>());
  if (!graph.ok()) return graph.status();
  if (mode == Mode::kSplitByRow) {
    if (inputs->empty() || (*inputs)[0].rank() < 1) return absl::OkStatus();  // nothing to split
    PartialShape declared((*inputs)[0].shape());
    std::vector<int64_t> dims(declared.dims().begin(), declared.dims().end());
    dims[0] = -1;
    spec.feed_shapes = {PartialShape::FromDims(dims)};
    spec.batch_split = FunctionSpec::BatchSplit::kAlways;
    spec.batch_split_rows = 1;
  }
  auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(), spec);
  if (!fn.ok()) return fn.status();
  *split_steps = (*fn)->split_steps();
  return (*fn)->Run(*inputs, outputs);
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesGolden) {
  const std::filesystem::path path = GoldenDir() / (GetParam() + ".json");
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << "cannot read " << path;
  std::stringstream text;
  text << file.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  ASSERT_FALSE(doc.HasParseError()) << path;
  const std::string op = doc["op"].GetString();
  ASSERT_NE(OpRegistry::Global().Find(op), nullptr)
      << "op \"" << op << "\" has goldens but no registered kernel";
  const Tolerance file_tol = ParseTolerance(doc["tolerance"], {1e-5, 1e-6});
  // Each case three times: every input fed; the inputs after the first as constants; and split
  // by rows (not error cases, whose shapes the declared feed shape may reject at compile time).
  int split_cases = 0;
  for (Mode mode : {Mode::kFed, Mode::kConstant, Mode::kSplitByRow}) {
    for (const auto& c : doc["cases"].GetArray()) {
      const std::string name = c["name"].GetString();
      if (mode == Mode::kSplitByRow && c.HasMember("error")) continue;
      SCOPED_TRACE(absl::StrCat(op, "/", name, " (", c["source"].GetString(), ")",
                                mode == Mode::kConstant     ? " with constant weights"
                                : mode == Mode::kSplitByRow ? " split by rows"
                                                            : ""));
      std::vector<Tensor> inputs, outputs;
      std::vector<int> ports;
      int split_steps = 0;
      absl::Status status = RunCase(op, c, &inputs, &ports, &outputs, mode, &split_steps);
      if (mode == Mode::kSplitByRow && outputs.empty() && status.ok()) continue;  // rank 0
      split_cases += split_steps > 0 && inputs[0].dim(0) > 1 ? 1 : 0;
      if (c.HasMember("error")) {
        const auto& e = c["error"];
        EXPECT_EQ(status.code(), ParseCode(e["code"].GetString())) << status;
        EXPECT_NE(status.message().find(e["message"].GetString()), absl::string_view::npos)
            << "message \"" << status.message() << "\" lacks \"" << e["message"].GetString()
            << "\"";
        continue;
      }
      ASSERT_TRUE(status.ok()) << status;
      const Tolerance tol = c.HasMember("tolerance") ? ParseTolerance(c["tolerance"], file_tol)
                                                     : file_tol;
      for (const auto& o : c["outputs"].GetArray()) {
        const int port = o["port"].GetInt();
        auto want = ParseTensor(o);
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_LT(static_cast<size_t>(port), outputs.size());
        ExpectMatches(outputs[port], *want, tol, absl::StrCat("output ", port));
      }
    }
  }
  // Ops that are row-wise in their common use: some case with more than one row must have split,
  // or the split mode above would test nothing for them. (FusedBatchNormV3's cases fetch its
  // statistics outputs too, which are not rows, so they run whole.)
  static const std::set<std::string> kRowWise = {
      "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool", "MatMul",
      "_FusedMatMul", "BiasAdd", "Relu", "Softmax", "Mean", "Sum", "ConcatV2", "Transpose",
      "AddV2", "Mul", "Tanh", "Sigmoid", "Reshape", "Pad"};
  if (kRowWise.contains(op)) {
    EXPECT_GT(split_cases, 0) << op << ": no case ran split by rows";
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, GoldenTest, ::testing::ValuesIn(GoldenFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(GoldenFilesTest, Present) {
  EXPECT_GT(GoldenFiles().size(), 100u) << "run tests/golden/generate.sh";
}

}  // namespace
}  // namespace savant::engine
