#include "loader/checkpoint.h"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

namespace fs = std::filesystem;
using engine::DataType;
using engine::Shape;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string Prefix(const fs::path& model_dir) {
  return (model_dir / "variables" / "variables").string();
}

std::vector<std::string> Names(const std::vector<CheckpointVariable>& variables) {
  std::vector<std::string> names;
  for (const auto& v : variables) names.push_back(v.name);
  return names;
}

float FloatObject(const Checkpoint& checkpoint, const std::string& path) {
  auto t = checkpoint.LookupObject(path);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok() || t->dtype() != DataType::kFloat || t->num_elements() != 1) return -1;
  return t->flat<float>()[0];
}

// TensorFlow Serving's TF2 half_plus_two (a tf.Module): a = 0.5, b = 2 (y = a x + b) and c = 3
// (y2 = 0.5 x + 3). Its variables are object-based: root children "a", "b", "c".
TEST(CheckpointTest, MapsTf2HalfPlusTwoObjectsToKeysAndValues) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_tf2_cpu/00000123");
  auto checkpoint = Checkpoint::Open(Prefix(dir));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_THAT(Names((*checkpoint)->variables()),
              ElementsAre("_CHECKPOINTABLE_OBJECT_GRAPH", "a/.ATTRIBUTES/VARIABLE_VALUE",
                          "b/.ATTRIBUTES/VARIABLE_VALUE", "c/.ATTRIBUTES/VARIABLE_VALUE"));
  const auto variables = (*checkpoint)->variables();
  EXPECT_EQ(variables[0].dtype, DataType::kString);
  EXPECT_EQ(variables[1].dtype, DataType::kFloat);
  EXPECT_EQ(variables[1].shape, Shape{});
  ASSERT_TRUE((*checkpoint)->has_object_graph());
  EXPECT_THAT((*checkpoint)->object_path_to_key(),
              ElementsAre(Pair("a", "a/.ATTRIBUTES/VARIABLE_VALUE"),
                          Pair("b", "b/.ATTRIBUTES/VARIABLE_VALUE"),
                          Pair("c", "c/.ATTRIBUTES/VARIABLE_VALUE")));
  EXPECT_EQ(FloatObject(**checkpoint, "a"), 0.5f);
  EXPECT_EQ(FloatObject(**checkpoint, "b"), 2.0f);
  EXPECT_EQ(FloatObject(**checkpoint, "c"), 3.0f);
  auto missing = (*checkpoint)->LookupObject("d");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no object at path \"d\""));

  // The free functions agree with the class.
  auto map = ObjectPathToKey((*checkpoint)->reader());
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(*map, (*checkpoint)->object_path_to_key());
}

// TF1 (name-based) checkpoints have no object graph: variables are listed by name only.
TEST(CheckpointTest, ListsTf1VariablesWithoutObjectGraph) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  auto reader = BundleReader::Open(Prefix(dir));
  ASSERT_TRUE(reader.ok()) << reader.status();
  const auto variables = ListVariables(**reader);
  EXPECT_THAT(Names(variables), ElementsAre("a", "a2", "b", "c", "c2"));
  for (const auto& v : variables) {
    EXPECT_EQ(v.dtype, DataType::kFloat) << v.name;
    EXPECT_EQ(v.shape, Shape{}) << v.name;
  }
  auto graph = ReadObjectGraph(**reader);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_FALSE(graph->has_value());
  auto map = ObjectPathToKey(**reader);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("no object graph"));

  auto checkpoint = Checkpoint::Open(Prefix(dir));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_FALSE((*checkpoint)->has_object_graph());
  EXPECT_TRUE((*checkpoint)->attributes().empty());
  EXPECT_EQ((*checkpoint)->LookupObject("a").status().code(), absl::StatusCode::kNotFound);
}

TEST(CheckpointTest, ListsOtherTf1Checkpoints) {
  SAVANT_FIXTURE_OR_SKIP(counter, "tfserving/saved_model_counter/00000123");
  auto reader = BundleReader::Open(Prefix(counter));
  ASSERT_TRUE(reader.ok()) << reader.status();
  const auto variables = ListVariables(**reader);
  ASSERT_THAT(Names(variables), ElementsAre("counter"));
  EXPECT_EQ(variables[0].dtype, DataType::kFloat);

  SAVANT_FIXTURE_OR_SKIP(mnist, "wild/tfbridge-mnist");
  auto mnist_reader = BundleReader::Open(Prefix(mnist));
  ASSERT_TRUE(mnist_reader.ok()) << mnist_reader.status();
  const auto mnist_variables = ListVariables(**mnist_reader);
  // A softmax regression on 28x28 images with 10 classes: weights [784, 10] and bias [10].
  ASSERT_THAT(Names(mnist_variables), ElementsAre("Variable", "Variable_1"));
  EXPECT_EQ(mnist_variables[0].shape, Shape({784, 10}));
  EXPECT_EQ(mnist_variables[1].shape, Shape({10}));
}

// cppflow's multi-input example: two Dense(5) layers on 5-wide inputs and two Dense(1) heads, so
// Keras' layer_with_weights-0 and -1 have [5,5] kernels and -2 and -3 have [5,1] kernels. Keras
// reaches each layer twice ("layer-2" and "layer_with_weights-0"); the first breadth-first name
// is the one in the keys.
TEST(CheckpointTest, MapsKerasLayerPaths) {
  SAVANT_FIXTURE_OR_SKIP(dir, "wild/cppflow-multi-io");
  auto checkpoint = Checkpoint::Open(Prefix(dir));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const auto& map = (*checkpoint)->object_path_to_key();
  ASSERT_EQ(map.size(), 8u);
  for (int layer = 0; layer < 4; ++layer) {
    const std::string path = "layer_with_weights-" + std::to_string(layer);
    ASSERT_TRUE(map.contains(path + "/kernel")) << path;
    EXPECT_EQ(map.at(path + "/kernel"), path + "/kernel/.ATTRIBUTES/VARIABLE_VALUE");
    auto kernel = (*checkpoint)->LookupObject(path + "/kernel");
    ASSERT_TRUE(kernel.ok()) << kernel.status();
    EXPECT_EQ(kernel->shape(), layer < 2 ? Shape({5, 5}) : Shape({5, 1}));
    auto bias = (*checkpoint)->LookupObject(path + "/bias");
    ASSERT_TRUE(bias.ok()) << bias.status();
    EXPECT_EQ(bias->shape(), layer < 2 ? Shape({5}) : Shape({1}));
  }
}

// Adam keeps slot variables "m" and "v" per trained variable; TensorFlow keys them
// "<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>/.ATTRIBUTES/VARIABLE_VALUE".
TEST(CheckpointTest, NamesOptimizerSlotsLikeTensorFlow) {
  SAVANT_FIXTURE_OR_SKIP(dir, "wild/lstm-series");
  auto checkpoint = Checkpoint::Open(Prefix(dir));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const auto& map = (*checkpoint)->object_path_to_key();
  const std::string kernel = "layer_with_weights-1/kernel";
  ASSERT_TRUE(map.contains(kernel));
  for (const char* slot : {"m", "v"}) {
    const std::string path = kernel + "/.OPTIMIZER_SLOT/optimizer/" + slot;
    ASSERT_TRUE(map.contains(path)) << path;
    EXPECT_EQ(map.at(path), path + "/.ATTRIBUTES/VARIABLE_VALUE");
    auto moment = (*checkpoint)->LookupObject(path);
    auto value = (*checkpoint)->LookupObject(kernel);
    ASSERT_TRUE(moment.ok() && value.ok());
    EXPECT_EQ(moment->shape(), value->shape());  // a slot has its variable's shape
  }
  auto iterations = (*checkpoint)->LookupObject("optimizer/iter");
  ASSERT_TRUE(iterations.ok()) << iterations.status();
  EXPECT_EQ(iterations->dtype(), DataType::kInt64);
}

// For every object-based fixture: each attribute's checkpoint key is the TensorFlow key of our
// object path ("<path>/.ATTRIBUTES/<attribute>"; no fixture name needs TensorFlow's escaping of
// "." and "/"), it exists in the bundle, and every variable of the bundle but the graph itself
// is reachable from the object graph.
TEST(CheckpointTest, ObjectPathsReproduceTensorFlowKeysInEveryFixture) {
  auto root = savant::testing::FixturesRoot();
  if (!root.ok()) GTEST_SKIP() << root.status().message();
  int graphs = 0;
  for (const auto& item : fs::recursive_directory_iterator(*root)) {
    if (item.path().filename() != "variables.index") continue;
    SCOPED_TRACE(item.path().string());
    auto checkpoint = Checkpoint::Open((item.path().parent_path() / "variables").string());
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    if (!(*checkpoint)->has_object_graph()) continue;
    ++graphs;
    std::set<std::string> keys;
    for (const CheckpointAttribute& a : (*checkpoint)->attributes()) {
      EXPECT_EQ(a.checkpoint_key, a.object_path + "/.ATTRIBUTES/" + a.attribute);
      EXPECT_TRUE((*checkpoint)->reader().Contains(a.checkpoint_key)) << a.checkpoint_key;
      keys.insert(a.checkpoint_key);
    }
    for (const CheckpointVariable& v : (*checkpoint)->variables()) {
      if (v.name == kObjectGraphKey) continue;
      EXPECT_TRUE(keys.contains(v.name)) << v.name;
    }
  }
  EXPECT_GE(graphs, 10);
}

TEST(CheckpointTest, ObjectGraphWithDanglingEdgeIsDataLoss) {
  tensorflow::TrackableObjectGraph graph;
  auto* root = graph.add_nodes();
  auto* child = root->add_children();
  child->set_node_id(5);
  child->set_local_name("layer");
  auto attributes = ListObjectAttributes(graph);
  ASSERT_EQ(attributes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(attributes.status().message()),
              HasSubstr("object graph: node 0 child \"layer\" refers to node 5, but the graph has "
                        "1 nodes"));
}

TEST(CheckpointTest, ObjectIsNamedByItsFirstBreadthFirstPath) {
  // tf.train.Checkpoint(model=m) with m.dense.kernel: root -> "model" -> "dense" -> "kernel".
  tensorflow::TrackableObjectGraph graph;
  for (int i = 0; i < 4; ++i) graph.add_nodes();
  const auto edge = [&](int from, int to, const char* name) {
    auto* c = graph.mutable_nodes(from)->add_children();
    c->set_node_id(to);
    c->set_local_name(name);
  };
  edge(0, 1, "model");
  edge(1, 2, "dense");
  edge(2, 3, "kernel");
  edge(0, 3, "shortcut_to_kernel_added_later");
  auto* attribute = graph.mutable_nodes(3)->add_attributes();
  attribute->set_name("VARIABLE_VALUE");
  attribute->set_checkpoint_key("model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE");

  auto writer = BundleWriter::InMemory();
  ASSERT_TRUE(writer
                  ->Add(std::string(kObjectGraphKey),
                        engine::Tensor::StringScalar(graph.SerializeAsString()))
                  .ok());
  ASSERT_TRUE(
      writer->Add("model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE", engine::Tensor::Scalar(7.0f))
          .ok());
  ASSERT_TRUE(writer->Finish().ok());
  auto reader = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto checkpoint = Checkpoint::FromReader(std::move(*reader));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  // Breadth-first, the root's direct edge is found before "model/dense/kernel".
  EXPECT_THAT((*checkpoint)->object_path_to_key(),
              ElementsAre(Pair("shortcut_to_kernel_added_later",
                               "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE")));
  EXPECT_EQ(FloatObject(**checkpoint, "shortcut_to_kernel_added_later"), 7.0f);
}

}  // namespace
}  // namespace savant::loader
