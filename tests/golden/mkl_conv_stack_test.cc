// The MKL export's conv-stack signatures (regress_x_to_y2, regress_x2_to_y3 of TF Serving's
// saved_model_half_plus_two_mkl) against mkl_conv_stack.json, written by mkl_conv_stack.js: an
// oracle with its own Philox4x32-10 (checked against Random123's known answers), TensorFlow's
// RandomUniform seeding and stream rules read from TensorFlow's sources, and TensorFlow.js conv2d.
// It shares no code with the engine. Skips when the fixture is absent.
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "engine/function.h"
#include "engine/graph.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/model.h"
#include "rapidjson/document.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow/core/framework/graph.pb.h"
#include "tests/util/fixtures.h"

namespace savant {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
using ::testing::HasSubstr;

const rapidjson::Document& Golden() {
  static const rapidjson::Document* doc = [] {
    std::ifstream in(SAVANT_MKL_GOLDEN);
    std::stringstream text;
    text << in.rdbuf();
    auto* d = new rapidjson::Document;
    d->Parse(text.str().c_str());
    return d;
  }();
  return *doc;
}

std::vector<float> FloatsOf(const rapidjson::Value& array) {
  std::vector<float> out;
  for (const auto& v : array.GetArray()) out.push_back(static_cast<float>(v.GetDouble()));
  return out;
}

Shape ShapeOf(const rapidjson::Value& array) {
  Shape s;
  for (const auto& d : array.GetArray()) s.AddDim(d.GetInt64());
  return s;
}

// Serialized tf.Examples, one per JSON object {"feature": [floats], ...}.
Tensor Examples(const rapidjson::Value& examples) {
  Tensor t(DataType::kString, Shape{static_cast<int64_t>(examples.Size())});
  for (rapidjson::SizeType i = 0; i < examples.Size(); ++i) {
    tensorflow::Example ex;
    for (const auto& feature : examples[i].GetObject()) {
      auto& list = *(*ex.mutable_features()->mutable_feature())[feature.name.GetString()].mutable_float_list();
      for (float v : FloatsOf(feature.value)) list.add_value(v);
    }
    ex.SerializeToString(&t.flat<std::string>()[i]);
  }
  return t;
}

std::string FixtureOrEmpty() { return Golden().IsObject() ? Golden()["fixture"].GetString() : ""; }

TEST(MklConvStackTest, GoldenIsReadable) {
  ASSERT_TRUE(Golden().IsObject()) << "cannot parse " << SAVANT_MKL_GOLDEN;
  EXPECT_EQ(Golden()["philox_known_answers_checked"].GetInt(), 3);
  EXPECT_EQ(Golden()["signatures"].Size(), 2u);
}

TEST(MklConvStackTest, ConvStackSignaturesGiveTheOraclesAnswers) {
  ASSERT_TRUE(Golden().IsObject());
  SAVANT_FIXTURE_OR_SKIP(dir, FixtureOrEmpty());
  auto model = loader::Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const double tol = Golden()["relative_tolerance"].GetDouble();
  int checked = 0;
  for (const auto& sig : Golden()["signatures"].GetArray()) {
    const std::string key = sig["signature"].GetString();
    const std::string input = sig["input"].GetString();
    const std::string output = sig["output"].GetString();
    for (const auto& c : sig["cases"].GetArray()) {
      SCOPED_TRACE(key + "/" + c["name"].GetString());
      Tensor feed = std::string(sig["feed"].GetString()) == "examples"
                        ? Examples(c["examples"])
                        : Tensor::FromVector<float>(DataType::kFloat, ShapeOf(c["input"]["shape"]),
                                                    FloatsOf(c["input"]["values"]));
      auto out = (*model)->Run(key, {{input, feed}}, {output});
      ++checked;
      if (c.HasMember("error")) {
        EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
        EXPECT_THAT(out.status().message(), HasSubstr(c["error"]["message"].GetString()));
        continue;
      }
      ASSERT_TRUE(out.ok()) << out.status();
      const Tensor& y = out->at(0).second;
      ASSERT_EQ(y.dtype(), DataType::kFloat);
      EXPECT_EQ(y.shape(), ShapeOf(c["shape"]));
      const std::vector<float> want = FloatsOf(c["values"]);
      ASSERT_EQ(y.num_elements(), static_cast<int64_t>(want.size()));
      auto got = y.flat<float>();
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_LE(std::abs(got[i] - want[i]), tol * std::abs(want[i])) << "element " << i;
      }
    }
  }
  EXPECT_EQ(checked, 16);
}

// The fixture's own initializer nodes (RandomUniform * (max - min) + min) with fixed seeds in
// place of its 0/0 attrs: the first and second run of one kernel give TensorFlow's values exactly
// (the second run starts 256 samples per element further on).
TEST(MklConvStackTest, KernelInitializersFollowTensorFlowsStream) {
  ASSERT_TRUE(Golden().IsObject());
  SAVANT_FIXTURE_OR_SKIP(dir, FixtureOrEmpty());
  auto model = loader::Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  int checked = 0;
  for (const auto& c : Golden()["initializers"].GetArray()) {
    const std::string node = c["node"].GetString();
    SCOPED_TRACE(node + " seed=" + c["seed"].GetString() + " seed2=" + c["seed2"].GetString());
    int64_t seed = 0, seed2 = 0;
    ASSERT_TRUE(absl::SimpleAtoi(c["seed"].GetString(), &seed));
    ASSERT_TRUE(absl::SimpleAtoi(c["seed2"].GetString(), &seed2));
    tensorflow::GraphDef graph_def = (*model)->meta_graph().graph_def();
    bool found = false;
    for (auto& n : *graph_def.mutable_node()) {
      if (n.name() != c["random_node"].GetString()) continue;
      ASSERT_EQ(n.op(), "RandomUniform");
      (*n.mutable_attr())["seed"].set_i(seed);
      (*n.mutable_attr())["seed2"].set_i(seed2);
      found = true;
    }
    ASSERT_TRUE(found);
    auto graph = engine::Graph::Import(graph_def, std::make_shared<engine::FunctionLibrary>());
    ASSERT_TRUE(graph.ok()) << graph.status();
    auto fn = engine::Function::Compile(*graph, std::make_shared<engine::ResourceManager>(),
                                        {.fetches = {node + ":0"}});
    ASSERT_TRUE(fn.ok()) << fn.status();
    for (const auto& run : c["runs"].GetArray()) {
      std::vector<Tensor> out;
      ASSERT_TRUE((*fn)->Run({}, &out).ok());
      EXPECT_EQ(out.at(0).shape(), ShapeOf(run["shape"]));
      auto got = out[0].flat<float>();
      EXPECT_EQ(std::vector<float>(got.begin(), got.end()), FloatsOf(run["values"]));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 30);
}

// With seed = seed2 = 0 TensorFlow seeds each RandomUniform kernel afresh (GuardedPhiloxRandom),
// so every load draws new kernels within [min, max). The outputs above do not depend on them.
TEST(MklConvStackTest, EachLoadDrawsFreshKernelsInTheInitializersRange) {
  ASSERT_TRUE(Golden().IsObject());
  SAVANT_FIXTURE_OR_SKIP(dir, FixtureOrEmpty());
  std::vector<std::vector<float>> loads;
  for (int load = 0; load < 2; ++load) {
    auto model = loader::Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    std::vector<float> kernels;
    for (const auto& k : Golden()["kernels"].GetArray()) {
      const std::string name = k["variable"].GetString();
      std::shared_ptr<engine::Variable> var;
      for (const auto& v : (*model)->resources().Variables()) {
        if (v->name() == name) var = v;
      }
      ASSERT_NE(var, nullptr) << name;
      auto value = var->Read();
      ASSERT_TRUE(value.ok()) << name << ": " << value.status();
      EXPECT_EQ(value->shape(), ShapeOf(k["shape"]));
      const float lo = static_cast<float>(k["min"].GetDouble());
      const float hi = static_cast<float>(k["max"].GetDouble());
      for (float x : value->flat<float>()) {
        EXPECT_GE(x, lo) << name;
        EXPECT_LT(x, hi) << name;
        kernels.push_back(x);
      }
    }
    loads.push_back(kernels);
  }
  // Three independent 23-bit draws per load: equal across loads with probability 2^-69.
  EXPECT_NE(loads[0], loads[1]);
}

}  // namespace
}  // namespace savant
