// Acceptance tests of the SavedModel reader and `savant inspect` against the real TensorFlow Serving
// and published SavedModels in the fixtures: every fixture is readable, every signature matches the
// GetModelMetadata answers TensorFlow Serving recorded, the text output matches saved_model_cli,
// and corrupt files give errors that name the file instead of crashing.
#include "loader/inspect.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "loader/saved_model.h"
#include "loader/tensor_bundle.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "tensorflow/core/framework/types.pb.h"
#include "tensorflow/core/protobuf/struct.pb.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHalfPlusTwoCpu[] = "tfserving/saved_model_half_plus_two_cpu/00000123";
constexpr char kHalfPlusTwoTf2[] = "tfserving/saved_model_half_plus_two_tf2_cpu/00000123";

bool HasGraphFile(const fs::path& dir) {
  return fs::exists(dir / kSavedModelPb) || fs::exists(dir / kSavedModelPbtxt);
}

// tfserving/<model>/<version>/ and wild/<model>/: every SavedModel of the fixtures, sorted.
std::vector<fs::path> FixtureSavedModels(const fs::path& root) {
  std::vector<fs::path> dirs;
  auto subdirs = [](const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_directory()) out.push_back(e.path());
    }
    return out;
  };
  for (const fs::path& model : subdirs(root / "tfserving")) {
    for (const fs::path& version : subdirs(model)) {
      if (HasGraphFile(version)) dirs.push_back(version);
    }
  }
  for (const fs::path& model : subdirs(root / "wild")) {
    if (HasGraphFile(model)) dirs.push_back(model);
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// ------------------------------------------------------------------------------------------------
// Signatures in one normalized form, built from TF Serving's metadata JSON, from the SignatureDef
// protos our reader returns, and from our --json output, so that each can be compared field by
// field with the first.

struct TensorView {
  std::string dtype;
  std::string name;
  bool unknown_rank = false;
  std::vector<int64_t> dims;
};

struct SignatureView {
  std::string method_name;
  std::map<std::string, TensorView> inputs;
  std::map<std::string, TensorView> outputs;
};

using SignatureMap = std::map<std::string, SignatureView>;

const rapidjson::Value* Member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// The GetModelMetadata JSON (TF Serving's REST answer): signature_def maps with TensorInfo protos in
// proto3 JSON (int64 dims as strings).
absl::StatusOr<SignatureMap> SignaturesFromMetadataJson(const rapidjson::Value& doc) {
  const rapidjson::Value* metadata = Member(doc, "metadata");
  const rapidjson::Value* outer = metadata ? Member(*metadata, "signature_def") : nullptr;
  const rapidjson::Value* sigs = outer ? Member(*outer, "signature_def") : nullptr;
  if (sigs == nullptr || !sigs->IsObject()) {
    return absl::InvalidArgumentError("no metadata.signature_def.signature_def object");
  }
  SignatureMap out;
  for (const auto& sig : sigs->GetObject()) {
    const std::string key = sig.name.GetString();
    SignatureView view;
    if (const auto* m = Member(sig.value, "method_name")) {
      if (!m->IsString()) return absl::InvalidArgumentError(key + ": method_name is not a string");
      view.method_name = m->GetString();
    }
    for (const char* side : {"inputs", "outputs"}) {
      auto& target = std::string(side) == "inputs" ? view.inputs : view.outputs;
      const rapidjson::Value* tensors = Member(sig.value, side);
      if (tensors == nullptr) continue;
      if (!tensors->IsObject()) return absl::InvalidArgumentError(key + ": " + side + " not an object");
      for (const auto& t : tensors->GetObject()) {
        TensorView tv;
        const auto* dtype = Member(t.value, "dtype");
        const auto* name = Member(t.value, "name");
        if (dtype == nullptr || !dtype->IsString() || name == nullptr || !name->IsString()) {
          return absl::InvalidArgumentError(absl::StrCat(key, " ", side, " ", t.name.GetString(),
                                                         ": dtype or name missing"));
        }
        tv.dtype = dtype->GetString();
        tv.name = name->GetString();
        if (const auto* shape = Member(t.value, "tensor_shape")) {
          if (const auto* ur = Member(*shape, "unknown_rank")) {
            if (!ur->IsBool()) return absl::InvalidArgumentError("unknown_rank is not a bool");
            tv.unknown_rank = ur->GetBool();
          }
          if (const auto* dims = Member(*shape, "dim")) {
            if (!dims->IsArray()) return absl::InvalidArgumentError("dim is not an array");
            for (const auto& d : dims->GetArray()) {
              const auto* size = Member(d, "size");
              int64_t v = 0;
              if (size == nullptr) {
                v = 0;  // proto3 JSON omits zero
              } else if (size->IsString()) {
                if (!absl::SimpleAtoi(std::string(size->GetString()), &v)) {
                  return absl::InvalidArgumentError(absl::StrCat("bad dim size ", size->GetString()));
                }
              } else if (size->IsInt64()) {
                v = size->GetInt64();
              } else {
                return absl::InvalidArgumentError("dim size is neither string nor integer");
              }
              tv.dims.push_back(v);
            }
          }
        }
        target[t.name.GetString()] = tv;
      }
    }
    out[key] = view;
  }
  return out;
}

TensorView TensorViewFromProto(const tensorflow::TensorInfo& info) {
  TensorView tv;
  tv.dtype = tensorflow::DataType_Name(info.dtype());
  tv.name = info.name();
  tv.unknown_rank = info.tensor_shape().unknown_rank();
  for (const auto& d : info.tensor_shape().dim()) tv.dims.push_back(d.size());
  return tv;
}

SignatureMap SignaturesFromProto(const tensorflow::MetaGraphDef& mg) {
  SignatureMap out;
  for (const auto& [key, sig] : mg.signature_def()) {
    SignatureView view;
    view.method_name = sig.method_name();
    for (const auto& [alias, info] : sig.inputs()) view.inputs[alias] = TensorViewFromProto(info);
    for (const auto& [alias, info] : sig.outputs()) view.outputs[alias] = TensorViewFromProto(info);
    out[key] = view;
  }
  return out;
}

// Our --json "signatures" object: shape is a list, or null for an unknown rank.
absl::StatusOr<SignatureMap> SignaturesFromInspectJson(const rapidjson::Value& doc) {
  const rapidjson::Value* sigs = Member(doc, "signatures");
  if (sigs == nullptr || !sigs->IsObject()) return absl::InvalidArgumentError("no signatures");
  SignatureMap out;
  for (const auto& sig : sigs->GetObject()) {
    SignatureView view;
    const auto* method = Member(sig.value, "method_name");
    if (method == nullptr || !method->IsString()) return absl::InvalidArgumentError("method_name");
    view.method_name = method->GetString();
    for (const char* side : {"inputs", "outputs"}) {
      auto& target = std::string(side) == "inputs" ? view.inputs : view.outputs;
      const auto* tensors = Member(sig.value, side);
      if (tensors == nullptr || !tensors->IsObject()) return absl::InvalidArgumentError(side);
      for (const auto& t : tensors->GetObject()) {
        TensorView tv;
        const auto* dtype = Member(t.value, "dtype");
        const auto* name = Member(t.value, "name");
        const auto* shape = Member(t.value, "shape");
        if (dtype == nullptr || !dtype->IsString() || name == nullptr || !name->IsString() ||
            shape == nullptr || !(shape->IsNull() || shape->IsArray())) {
          return absl::InvalidArgumentError(absl::StrCat(sig.name.GetString(), " ", side, " ",
                                                         t.name.GetString(), ": malformed"));
        }
        tv.dtype = dtype->GetString();
        tv.name = name->GetString();
        tv.unknown_rank = shape->IsNull();
        if (shape->IsArray()) {
          for (const auto& d : shape->GetArray()) {
            if (!d.IsInt64()) return absl::InvalidArgumentError("dim is not an integer");
            tv.dims.push_back(d.GetInt64());
          }
        }
        target[t.name.GetString()] = tv;
      }
    }
    out[sig.name.GetString()] = view;
  }
  return out;
}

// Every difference between `expected` and `actual`, one line each.
std::vector<std::string> DiffSignatures(const SignatureMap& expected, const SignatureMap& actual) {
  std::vector<std::string> diffs;
  for (const auto& [key, sig] : actual) {
    if (!expected.contains(key)) diffs.push_back(absl::StrCat("unexpected signature \"", key, "\""));
  }
  for (const auto& [key, want] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      diffs.push_back(absl::StrCat("missing signature \"", key, "\""));
      continue;
    }
    const SignatureView& got = it->second;
    if (want.method_name != got.method_name) {
      diffs.push_back(absl::StrCat(key, ": method_name expected \"", want.method_name, "\", got \"",
                                   got.method_name, "\""));
    }
    for (const char* side : {"inputs", "outputs"}) {
      const bool in = std::string(side) == "inputs";
      const auto& want_tensors = in ? want.inputs : want.outputs;
      const auto& got_tensors = in ? got.inputs : got.outputs;
      for (const auto& [alias, t] : got_tensors) {
        if (!want_tensors.contains(alias)) {
          diffs.push_back(absl::StrCat(key, " ", side, ": unexpected alias \"", alias, "\""));
        }
      }
      for (const auto& [alias, w] : want_tensors) {
        auto t_it = got_tensors.find(alias);
        const std::string where = absl::StrCat(key, " ", side, "[\"", alias, "\"]");
        if (t_it == got_tensors.end()) {
          diffs.push_back(absl::StrCat(where, ": missing"));
          continue;
        }
        const TensorView& g = t_it->second;
        if (w.dtype != g.dtype) {
          diffs.push_back(absl::StrCat(where, ": dtype expected ", w.dtype, ", got ", g.dtype));
        }
        if (w.name != g.name) {
          diffs.push_back(absl::StrCat(where, ": name expected \"", w.name, "\", got \"", g.name, "\""));
        }
        if (w.unknown_rank != g.unknown_rank) {
          diffs.push_back(absl::StrCat(where, ": unknown_rank expected ", w.unknown_rank, ", got ",
                                       g.unknown_rank));
        }
        if (w.dims != g.dims) {
          diffs.push_back(absl::StrCat(where, ": dims expected [", absl::StrJoin(w.dims, ","),
                                       "], got [", absl::StrJoin(g.dims, ","), "]"));
        }
      }
    }
  }
  return diffs;
}

absl::StatusOr<rapidjson::Document> ParseJson(const std::string& text, const std::string& label) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": JSON parse error at offset ",
                                                   doc.GetErrorOffset(), ": ",
                                                   rapidjson::GetParseError_En(doc.GetParseError())));
  }
  return doc;
}

// Compares the metadata JSON `metadata_file` (fixtures-relative) with model `model_dir`: through
// ReadSavedModel's SignatureDefs and through Inspect's JSON output.
void ExpectModelMatchesMetadata(const std::string& metadata_file, const std::string& model_dir) {
  SAVANT_FIXTURE_OR_SKIP(json_path, metadata_file);
  SAVANT_FIXTURE_OR_SKIP(dir, model_dir);
  SCOPED_TRACE(absl::StrCat(metadata_file, " vs ", model_dir));
  auto doc = ParseJson(ReadText(json_path), json_path.string());
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto expected = SignaturesFromMetadataJson(*doc);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_FALSE(expected->empty());

  auto files = ReadSavedModel(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(DiffSignatures(*expected, SignaturesFromProto((*files)->meta_graph())),
              ::testing::IsEmpty());

  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  auto ours = ParseJson(FormatInspectJson(*report), "inspect --json");
  ASSERT_TRUE(ours.ok()) << ours.status();
  auto actual = SignaturesFromInspectJson(*ours);
  ASSERT_TRUE(actual.ok()) << actual.status();
  EXPECT_THAT(DiffSignatures(*expected, *actual), ::testing::IsEmpty());
}

// ------------------------------------------------------------------------------------------------
// (1) Every fixture SavedModel is readable.

TEST(InspectTest, InspectsEveryFixtureSavedModel) {
  auto root = testing::FixturesRoot();
  if (!root.ok()) GTEST_SKIP() << root.status().message();
  const std::vector<fs::path> dirs = FixtureSavedModels(*root);
  ASSERT_GE(dirs.size(), 20u) << "expected the TF Serving and wild fixtures under " << root->string();
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.string());
    auto report = Inspect(dir);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_FALSE(report->shown_meta_graphs.empty());
    EXPECT_EQ(report->ops.size(), report->shown_meta_graphs.size());
    EXPECT_FALSE(report->ops[0].empty());
    const std::string text = FormatInspectText(*report);
    EXPECT_THAT(text, HasSubstr("contains the following SignatureDefs:"));
    auto json = ParseJson(FormatInspectJson(*report), dir.string());
    EXPECT_TRUE(json.ok()) << json.status();
    int64_t sum = 0;
    for (const InspectedVariable& v : report->variables) sum += v.bytes;
    EXPECT_EQ(report->variable_bytes, sum);

    // --all shows every meta graph, the primary one first.
    auto all = Inspect(dir, {.all_meta_graphs = true});
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(static_cast<int>(all->shown_meta_graphs.size()), all->saved_model.meta_graphs_size());
    EXPECT_EQ(all->shown_meta_graphs[0], report->shown_meta_graphs[0]);
  }
}

TEST(InspectTest, PicksTheTransformMetaGraphWhenThereIsNoServeOne) {
  SAVANT_FIXTURE_OR_SKIP(dir, "wild/tfx-transform-fn");
  // The server's reader insists on {"serve"} and says which tag-sets exist.
  auto files = ReadSavedModel(dir);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().message(), HasSubstr("transform"));

  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->shown_meta_graphs.size(), 1u);
  EXPECT_THAT(report->meta_graph(0).meta_info_def().tags(), ::testing::ElementsAre("transform"));
  const std::string text = FormatInspectText(*report);
  EXPECT_THAT(text, HasSubstr("MetaGraphDef with tag-set: 'transform' contains the following"));
  EXPECT_THAT(text, HasSubstr("signature_def['transform_signature']:"));
  // SparseTensor inputs list their three tensors instead of an empty name.
  EXPECT_THAT(text, HasSubstr("    inputs['company'] tensor_info:\n"
                              "        dtype: DT_STRING\n"
                              "        shape: (-1, -1)\n"
                              "        coo_sparse:\n"
                              "          indices: "));

  auto json = ParseJson(FormatInspectJson(*report), "json");
  ASSERT_TRUE(json.ok()) << json.status();
  const auto& company = (*json)["signatures"]["transform_signature"]["inputs"]["company"];
  ASSERT_TRUE(company.HasMember("coo_sparse"));
  EXPECT_TRUE(company["coo_sparse"]["indices"].IsString());
  EXPECT_TRUE(company["coo_sparse"]["values"].IsString());
  EXPECT_TRUE(company["coo_sparse"]["dense_shape"].IsString());

  auto exact = Inspect(dir, {.tags = {"transform"}});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->shown_meta_graphs.size(), 1u);
}

TEST(InspectTest, UnknownTagSetIsNotFoundAndListsTheTagSets) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir, {.tags = {"serve", "tpu"}});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("saved_model.pb"));
  EXPECT_THAT(report.status().message(), HasSubstr("'serve, tpu'"));
  EXPECT_THAT(report.status().message(), HasSubstr("tag-sets there are: 'serve'"));
}

// ------------------------------------------------------------------------------------------------
// (2) Signatures match TF Serving's GetModelMetadata answers.

TEST(InspectTest, HalfPlusTwoCpuMatchesTfServingMetadata) {
  ExpectModelMatchesMetadata("tfserving/half_plus_two_model_metadata.json", kHalfPlusTwoCpu);
}

TEST(InspectTest, HalfPlusTwoMklDiffersFromTheCpuMetadataInTwoOutputShapes) {
  // The MKL export has the CPU export's five signatures, but two regress outputs were written with
  // a static [1,10,10,1] shape: the comparison must notice exactly those two fields.
  SAVANT_FIXTURE_OR_SKIP(json_path, "tfserving/half_plus_two_model_metadata.json");
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_mkl/00000123");
  auto doc = ParseJson(ReadText(json_path), json_path.string());
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto expected = SignaturesFromMetadataJson(*doc);
  ASSERT_TRUE(expected.ok()) << expected.status();
  auto files = ReadSavedModel(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(DiffSignatures(*expected, SignaturesFromProto((*files)->meta_graph())),
              ::testing::UnorderedElementsAre(
                  "regress_x2_to_y3 outputs[\"outputs\"]: dims expected [-1,1], got [1,10,10,1]",
                  "regress_x_to_y2 outputs[\"outputs\"]: dims expected [-1,1], got [1,10,10,1]"));
}

TEST(InspectTest, HalfPlusTwoTwoVersionsMatchTfServingMetadata) {
  for (const char* version : {"00000123", "00000124"}) {
    ExpectModelMatchesMetadata("tfserving/saved_model_half_plus_two_2_versions_metadata.json",
                               absl::StrCat("tfserving/saved_model_half_plus_two_2_versions/", version));
  }
}

TEST(InspectTest, HalfPlusTwoTf2MatchesTfServingMetadata) {
  // Despite its model_spec name, this file is the answer for the TF2 export: TF2 tensor names
  // (serving_default_x:0, StatefulPartitionedCall_5:0) and the __saved_model_init_op signature.
  ExpectModelMatchesMetadata("tfserving/saved_model_half_plus_two_tf2_2_versions_metadata.json",
                             kHalfPlusTwoTf2);
}

TEST(InspectTest, MetadataComparisonFailsOnEveryKindOfDifference) {
  SAVANT_FIXTURE_OR_SKIP(json_path, "tfserving/half_plus_two_model_metadata.json");
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto files = ReadSavedModel(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  const SignatureMap actual = SignaturesFromProto((*files)->meta_graph());
  const std::string text = ReadText(json_path);

  using Mutation = std::function<void(rapidjson::Document&)>;
  auto sigs = [](rapidjson::Document& d) -> rapidjson::Value& {
    return d["metadata"]["signature_def"]["signature_def"];
  };
  const std::vector<std::pair<std::string, Mutation>> mutations = {
      {"dtype", [&](auto& d) { sigs(d)["serving_default"]["inputs"]["x"]["dtype"] = "DT_DOUBLE"; }},
      {"name", [&](auto& d) { sigs(d)["serving_default"]["outputs"]["y"]["name"] = "z:0"; }},
      {"dim size",
       [&](auto& d) {
         sigs(d)["serving_default"]["inputs"]["x"]["tensor_shape"]["dim"][0]["size"] = "-2";
       }},
      {"dim count",
       [&](auto& d) { sigs(d)["serving_default"]["outputs"]["y"]["tensor_shape"]["dim"].PopBack(); }},
      {"unknown_rank",
       [&](auto& d) {
         sigs(d)["classify_x_to_y"]["inputs"]["inputs"]["tensor_shape"]["unknown_rank"] = false;
       }},
      {"method_name",
       [&](auto& d) { sigs(d)["regress_x_to_y"]["method_name"] = "tensorflow/serving/predict"; }},
      {"missing signature", [&](auto& d) { sigs(d).RemoveMember("regress_x2_to_y3"); }},
      {"missing alias", [&](auto& d) { sigs(d)["serving_default"]["inputs"].RemoveMember("x"); }},
      {"extra alias",
       [&](auto& d) {
         rapidjson::Value copy(sigs(d)["serving_default"]["outputs"]["y"], d.GetAllocator());
         sigs(d)["serving_default"]["outputs"].AddMember("y_extra", copy, d.GetAllocator());
       }},
  };
  auto unchanged = ParseJson(text, "metadata");
  ASSERT_TRUE(unchanged.ok());
  auto baseline = SignaturesFromMetadataJson(*unchanged);
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  ASSERT_TRUE(DiffSignatures(*baseline, actual).empty());
  for (const auto& [what, mutate] : mutations) {
    SCOPED_TRACE(what);
    auto doc = ParseJson(text, "metadata");
    ASSERT_TRUE(doc.ok());
    mutate(*doc);
    auto expected = SignaturesFromMetadataJson(*doc);
    ASSERT_TRUE(expected.ok()) << expected.status();
    EXPECT_FALSE(DiffSignatures(*expected, actual).empty());
  }
}

// ------------------------------------------------------------------------------------------------
// (3) Text output as saved_model_cli prints it, plus our sections.

TEST(InspectTest, TextOutputMatchesSavedModelCli) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  const std::string text = FormatInspectText(*report);
  EXPECT_THAT(text, HasSubstr("\nMetaGraphDef with tag-set: 'serve' contains the following "
                              "SignatureDefs:\n"));
  EXPECT_THAT(text, HasSubstr("\nsignature_def['serving_default']:\n"
                              "  The given SavedModel SignatureDef contains the following input(s):\n"
                              "    inputs['x'] tensor_info:\n"
                              "        dtype: DT_FLOAT\n"
                              "        shape: (-1, 1)\n"
                              "        name: x:0\n"
                              "  The given SavedModel SignatureDef contains the following output(s):\n"
                              "    outputs['y'] tensor_info:\n"
                              "        dtype: DT_FLOAT\n"
                              "        shape: (-1, 1)\n"
                              "        name: y:0\n"
                              "  Method name is: tensorflow/serving/predict\n"));
  EXPECT_THAT(text, HasSubstr("    inputs['inputs'] tensor_info:\n"
                              "        dtype: DT_STRING\n"
                              "        shape: unknown_rank\n"
                              "        name: tf_example:0\n"));
  // Signatures in sorted order, as saved_model_cli prints them.
  EXPECT_LT(text.find("signature_def['classify_x_to_y']"), text.find("signature_def['regress_x2_to_y3']"));
  EXPECT_LT(text.find("signature_def['regress_x_to_y2']"), text.find("signature_def['serving_default']"));
  EXPECT_THAT(text, HasSubstr("TensorFlow version: 1.14.0"));
  EXPECT_THAT(text, HasSubstr("Variables in "));
  EXPECT_THAT(text, HasSubstr("Total variable bytes: "));
  EXPECT_THAT(text, HasSubstr("  assets/foo.txt ("));
  EXPECT_THAT(text, HasSubstr("saved_model_config: none"));
  EXPECT_THAT(text, HasSubstr("Fingerprint: none"));
  EXPECT_THAT(text, ::testing::ContainsRegex("\n  Placeholder +[0-9]+  supported\n"));
}

TEST(InspectTest, ListsVariablesWithBytes) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->has_object_graph);
  std::map<std::string, const InspectedVariable*> by_name;
  for (const auto& v : report->variables) by_name[v.name] = &v;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(by_name.contains(name)) << name;
    EXPECT_EQ(by_name[name]->dtype, engine::DataType::kFloat);
    EXPECT_EQ(by_name[name]->shape, engine::Shape{});
    EXPECT_EQ(by_name[name]->bytes, 4);
  }
}

TEST(InspectTest, ReportsTf2ObjectPathsFingerprintAndVersion) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoTf2);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->has_object_graph);
  bool any_object_path = false;
  for (const auto& v : report->variables) any_object_path |= !v.object_path.empty();
  EXPECT_TRUE(any_object_path);
  ASSERT_TRUE(report->fingerprint.has_value());
  EXPECT_NE(report->fingerprint->saved_model_checksum(), 0u);
  const std::string text = FormatInspectText(*report);
  EXPECT_THAT(text, HasSubstr("TensorFlow version: 2.14.0"));
  EXPECT_THAT(text, HasSubstr("\nFingerprint (fingerprint.pb):\n  saved_model_checksum: "));
  EXPECT_THAT(text, HasSubstr("signature_def['__saved_model_init_op']:"));
}

TEST(InspectTest, ReportsSavedModelConfig) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu_with_saved_model_config/00000123");
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->saved_model_config.has_value());
  EXPECT_EQ(report->saved_model_config->path, "assets.extra/saved_model_config.pb");
  EXPECT_EQ(report->saved_model_config->bytes,
            static_cast<int64_t>(fs::file_size(dir / "assets.extra" / "saved_model_config.pb")));
  EXPECT_THAT(FormatInspectText(*report),
              HasSubstr("saved_model_config: assets.extra/saved_model_config.pb ("));
}

// ------------------------------------------------------------------------------------------------
// (4) JSON output.

TEST(InspectTest, JsonHasStableKeysAndOpsWithSupportedFlags) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  auto parsed = ParseJson(FormatInspectJson(*report), "json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const rapidjson::Document& json = *parsed;
  for (const char* key : {"tags", "signatures", "variables", "ops", "tensorflow_version", "assets",
                          "fingerprint", "total_variable_bytes", "saved_model_config"}) {
    EXPECT_TRUE(json.HasMember(key)) << key;
  }
  ASSERT_TRUE(json["tags"].IsArray());
  ASSERT_EQ(json["tags"].Size(), 1u);
  EXPECT_STREQ(json["tags"][0].GetString(), "serve");
  EXPECT_STREQ(json["tensorflow_version"].GetString(), "1.14.0");
  EXPECT_TRUE(json["fingerprint"].IsNull());

  const auto& x = json["signatures"]["serving_default"]["inputs"]["x"];
  EXPECT_STREQ(x["dtype"].GetString(), "DT_FLOAT");
  EXPECT_STREQ(x["name"].GetString(), "x:0");
  ASSERT_TRUE(x["shape"].IsArray());
  ASSERT_EQ(x["shape"].Size(), 2u);
  EXPECT_EQ(x["shape"][0].GetInt64(), -1);
  EXPECT_EQ(x["shape"][1].GetInt64(), 1);
  EXPECT_TRUE(json["signatures"]["classify_x_to_y"]["inputs"]["inputs"]["shape"].IsNull());
  EXPECT_STREQ(json["signatures"]["serving_default"]["method_name"].GetString(),
               "tensorflow/serving/predict");

  const auto& ops = json["ops"];
  ASSERT_TRUE(ops.IsArray());
  ASSERT_GT(ops.Size(), 0u);
  std::string previous;
  bool saw_placeholder = false;
  for (const auto& op : ops.GetArray()) {
    ASSERT_TRUE(op["op"].IsString());
    ASSERT_TRUE(op["count"].IsInt64());
    ASSERT_TRUE(op["supported"].IsBool());
    EXPECT_GT(op["count"].GetInt64(), 0);
    const std::string name = op["op"].GetString();
    EXPECT_LT(previous, name) << "ops must be sorted and unique";
    previous = name;
    if (name == "Placeholder") {
      saw_placeholder = true;
      EXPECT_TRUE(op["supported"].GetBool());
      EXPECT_EQ(op["count"].GetInt64(), 1);
    }
  }
  EXPECT_TRUE(saw_placeholder);

  int64_t sum = 0;
  for (const auto& v : json["variables"].GetArray()) {
    ASSERT_TRUE(v["name"].IsString());
    ASSERT_TRUE(v["dtype"].IsString());
    ASSERT_TRUE(v["shape"].IsArray());
    sum += v["bytes"].GetInt64();
  }
  EXPECT_EQ(json["total_variable_bytes"].GetInt64(), sum);
  ASSERT_TRUE(json["assets"]["files"].IsArray());
  ASSERT_EQ(json["assets"]["files"].Size(), 1u);
  EXPECT_STREQ(json["assets"]["files"][0]["path"].GetString(), "assets/foo.txt");
  EXPECT_EQ(json["assets"]["files"][0]["bytes"].GetInt64(),
            static_cast<int64_t>(fs::file_size(dir / "assets" / "foo.txt")));
}

TEST(InspectTest, JsonWithAllListsEveryMetaGraph) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir, {.all_meta_graphs = true});
  ASSERT_TRUE(report.ok()) << report.status();
  auto json = ParseJson(FormatInspectJson(*report), "json");
  ASSERT_TRUE(json.ok()) << json.status();
  // One meta graph: no separate list.
  EXPECT_FALSE(json->HasMember("meta_graphs"));

  // Two meta graphs: both listed, the selected one first.
  InspectReport two = *std::move(report);
  tensorflow::MetaGraphDef gpu = two.saved_model.meta_graphs(0);
  gpu.mutable_meta_info_def()->add_tags("gpu");
  *two.saved_model.add_meta_graphs() = gpu;
  two.shown_meta_graphs = {0, 1};
  two.ops.push_back(CountOps(gpu, engine::OpRegistry::Global()));
  auto json2 = ParseJson(FormatInspectJson(two), "json");
  ASSERT_TRUE(json2.ok()) << json2.status();
  ASSERT_TRUE((*json2)["meta_graphs"].IsArray());
  ASSERT_EQ((*json2)["meta_graphs"].Size(), 2u);
  EXPECT_EQ((*json2)["meta_graphs"][1]["tags"].Size(), 2u);
  EXPECT_THAT(FormatInspectText(two), HasSubstr("MetaGraphDef with tag-set: 'serve, gpu'"));
}

TEST(InspectTest, CountsOpsOfGraphAndLibraryAndMarksUnsupported) {
  tensorflow::MetaGraphDef mg;
  auto* graph = mg.mutable_graph_def();
  auto add_node = [](auto* container, const std::string& name, const std::string& op) {
    auto* node = container->add_node();
    node->set_name(name);
    node->set_op(op);
  };
  add_node(graph, "x", "Placeholder");
  add_node(graph, "call", "StatefulPartitionedCall");
  add_node(graph, "direct", "my_function");
  add_node(graph, "weird", "NoSuchOpForInspectTest");
  auto* f = graph->mutable_library()->add_function();
  f->mutable_signature()->set_name("my_function");
  for (const char* name : {"a", "b"}) {
    auto* node = f->add_node_def();
    node->set_name(name);
    node->set_op("NoSuchOpForInspectTest");
  }
  auto* nested = f->add_node_def();
  nested->set_name("nested");
  nested->set_op("my_function");

  const std::vector<OpUsage> ops = CountOps(mg, engine::OpRegistry::Global());
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].op, "NoSuchOpForInspectTest");
  EXPECT_EQ(ops[0].count, 3);
  EXPECT_FALSE(ops[0].supported);
  EXPECT_EQ(ops[1].op, "Placeholder");
  EXPECT_EQ(ops[1].count, 1);
  EXPECT_TRUE(ops[1].supported);
  EXPECT_EQ(ops[2].op, "StatefulPartitionedCall");
  EXPECT_TRUE(ops[2].supported);

  InspectReport report;
  *report.saved_model.add_meta_graphs() = mg;
  report.shown_meta_graphs = {0};
  report.ops = {ops};
  EXPECT_THAT(FormatInspectText(report),
              ::testing::ContainsRegex("\n  NoSuchOpForInspectTest +3  UNSUPPORTED\n"));
}

TEST(InspectTest, PrintsCompositeTensorsWithTheirComponents) {
  tensorflow::MetaGraphDef mg;
  mg.mutable_meta_info_def()->add_tags("serve");
  tensorflow::SignatureDef& sig = (*mg.mutable_signature_def())["ragged"];
  sig.set_method_name("tensorflow/serving/predict");
  tensorflow::TensorInfo& in = (*sig.mutable_inputs())["r"];
  auto* composite = in.mutable_composite_tensor();
  composite->mutable_type_spec()->set_type_spec_class(tensorflow::TypeSpecProto::RAGGED_TENSOR_SPEC);
  for (const char* name : {"r/values:0", "r/row_splits:0"}) {
    tensorflow::TensorInfo* component = composite->add_components();
    component->set_name(name);
    component->set_dtype(tensorflow::DT_INT64);
    component->mutable_tensor_shape()->add_dim()->set_size(-1);
  }
  tensorflow::TensorInfo& out = (*sig.mutable_outputs())["y"];
  out.set_name("y:0");
  out.set_dtype(tensorflow::DT_FLOAT);

  InspectReport report;
  *report.saved_model.add_meta_graphs() = mg;
  report.shown_meta_graphs = {0};
  report.ops = {CountOps(mg, engine::OpRegistry::Global())};
  EXPECT_THAT(FormatInspectText(report),
              HasSubstr("    inputs['r'] tensor_info:\n"
                        "        dtype: DT_INVALID\n"
                        "        shape: ()\n"
                        "        composite_tensor: RAGGED_TENSOR_SPEC (2 components)\n"
                        "        components[0] tensor_info:\n"
                        "            dtype: DT_INT64\n"
                        "            shape: (-1)\n"
                        "            name: r/values:0\n"
                        "        components[1] tensor_info:\n"));
  auto json = ParseJson(FormatInspectJson(report), "json");
  ASSERT_TRUE(json.ok()) << json.status();
  const auto& r = (*json)["signatures"]["ragged"]["inputs"]["r"];
  ASSERT_TRUE(r.HasMember("composite"));
  EXPECT_FALSE(r.HasMember("name"));
  EXPECT_STREQ(r["composite"]["type_spec"].GetString(), "RAGGED_TENSOR_SPEC");
  ASSERT_EQ(r["composite"]["components"].Size(), 2u);
  EXPECT_STREQ(r["composite"]["components"][1]["name"].GetString(), "r/row_splits:0");
}

// ------------------------------------------------------------------------------------------------
// Checkpoint prefixes.

TEST(InspectTest, ListsVariablesOfACheckpointPrefix) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoTf2);
  const fs::path prefix = dir / "variables" / "variables";
  for (const fs::path& path : {prefix, fs::path(prefix.string() + ".index")}) {
    SCOPED_TRACE(path.string());
    auto report = Inspect(path);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->is_checkpoint);
    EXPECT_TRUE(report->has_object_graph);
    EXPECT_FALSE(report->variables.empty());
    const std::string text = FormatInspectText(*report);
    EXPECT_THAT(text, HasSubstr("object-based (TF2)"));
    EXPECT_THAT(text, HasSubstr("_CHECKPOINTABLE_OBJECT_GRAPH"));
    auto json = ParseJson(FormatInspectJson(*report), "json");
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_TRUE((*json)["has_object_graph"].GetBool());
    EXPECT_TRUE((*json)["variables"].IsArray());
    EXPECT_FALSE(SignatureDot(*report, "serving_default").ok());
  }
}

TEST(InspectTest, ListsANameBasedCheckpointWithSizes) {
  const fs::path dir = testing::MakeTempDir("inspect-ckpt");
  const std::string prefix = (dir / "model.ckpt").string();
  BundleWriter writer(prefix);
  ASSERT_TRUE(writer.Add("dense/kernel", engine::Tensor::FromVector<float>(
                                             engine::DataType::kFloat, {2, 3},
                                             {1, 2, 3, 4, 5, 6})).ok());
  ASSERT_TRUE(writer.Add("global_step", engine::Tensor::FromVector<int64_t>(
                                            engine::DataType::kInt64, {}, {7})).ok());
  ASSERT_TRUE(writer.Finish().ok()) << writer.status();

  auto report = Inspect(prefix);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->is_checkpoint);
  EXPECT_FALSE(report->has_object_graph);
  ASSERT_EQ(report->variables.size(), 2u);
  EXPECT_EQ(report->variables[0].name, "dense/kernel");
  EXPECT_EQ(report->variables[0].shape, (engine::Shape{2, 3}));
  EXPECT_EQ(report->variables[0].bytes, 24);
  EXPECT_EQ(report->variables[1].name, "global_step");
  EXPECT_EQ(report->variables[1].dtype, engine::DataType::kInt64);
  EXPECT_EQ(report->variables[1].bytes, 8);
  EXPECT_EQ(report->variable_bytes, 32);
  const std::string text = FormatInspectText(*report);
  EXPECT_THAT(text, ::testing::ContainsRegex("\n  dense/kernel +DT_FLOAT +\\(2, 3\\) +24\n"));
  EXPECT_THAT(text, HasSubstr("Total variable bytes: 32"));
  fs::remove_all(dir);
}

TEST(InspectTest, MissingPathIsNotFound) {
  auto report = Inspect("/nonexistent/savant/inspect/model");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("/nonexistent/savant/inspect/model"));
  EXPECT_THAT(report.status().message(), HasSubstr(".index"));
}

// ------------------------------------------------------------------------------------------------
// --dot.

TEST(InspectTest, DotIsPrunedToTheSignature) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoCpu);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  auto dot = SignatureDot(*report, "serving_default");
  ASSERT_TRUE(dot.ok()) << dot.status();
  EXPECT_THAT(*dot, HasSubstr("digraph \"serving_default\" {"));
  // y = Identity(Add(Mul(a/read, x), b/read)); x is the input, so ParseExample above it is cut.
  for (const char* label : {"\"x\\nIdentity\"", "\"Mul\\nMul\"", "\"a/read\\nIdentity\"",
                            "\"Add\\nAdd\"", "\"b\\nVariableV2\"", "\"y\\nIdentity\""}) {
    EXPECT_THAT(*dot, HasSubstr(label));
  }
  for (const char* absent : {"ParseExample", "tf_example", "y2", "Mul_1", "c/read", "save/"}) {
    EXPECT_THAT(*dot, Not(HasSubstr(absent)));
  }
  EXPECT_THAT(*dot, HasSubstr("input 'x'\\nx:0"));
  EXPECT_THAT(*dot, HasSubstr("output 'y'\\ny:0"));
  EXPECT_EQ(dot->back(), '\n');
  EXPECT_THAT(*dot, HasSubstr("}\n"));

  auto unknown = SignatureDot(*report, "no_such_signature");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("serving_default"));
}

TEST(InspectTest, DotExpandsTf2FunctionCalls) {
  SAVANT_FIXTURE_OR_SKIP(dir, kHalfPlusTwoTf2);
  auto report = Inspect(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  auto dot = SignatureDot(*report, "serving_default");
  ASSERT_TRUE(dot.ok()) << dot.status();
  EXPECT_THAT(*dot, HasSubstr("serving_default_x\\nPlaceholder"));
  EXPECT_THAT(*dot, Not(HasSubstr("classify_x2_to_y3_inputs")));
  // The call is inlined: its body's nodes carry the call's name as prefix, and its control
  // outputs (variable reads before the result) are dashed edges.
  EXPECT_THAT(*dot, HasSubstr("StatefulPartitionedCall_5/"));
  EXPECT_THAT(*dot, HasSubstr("[style=dashed]"));
}

TEST(InspectTest, DotOfEveryHalfPlusTwoSignature) {
  for (const char* model : {kHalfPlusTwoCpu, kHalfPlusTwoTf2}) {
    SAVANT_FIXTURE_OR_SKIP(dir, model);
    auto report = Inspect(dir);
    ASSERT_TRUE(report.ok()) << report.status();
    for (const auto& [key, sig] : report->meta_graph(0).signature_def()) {
      auto dot = SignatureDot(*report, key);
      EXPECT_TRUE(dot.ok()) << model << " " << key << ": " << dot.status();
    }
  }
}

// ------------------------------------------------------------------------------------------------
// (5) Corrupt input gives an error naming the file, never a crash.

class CorruptSavedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto src = testing::FixturePath(kHalfPlusTwoCpu);
    if (!src.ok()) GTEST_SKIP() << src.status().message();
    dir_ = testing::MakeTempDir("inspect-corrupt") / "00000123";
    testing::CopyTree(*src, dir_);
    pb_ = dir_ / kSavedModelPb;
    original_ = ReadText(pb_);
    ASSERT_GT(original_.size(), 100u);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_.parent_path());
  }

  // Both the server's reader and inspect must fail with `code`, naming `file`.
  void ExpectError(absl::StatusCode code, const fs::path& file) {
    auto files = ReadSavedModel(dir_);
    ASSERT_FALSE(files.ok());
    EXPECT_EQ(files.status().code(), code) << files.status();
    EXPECT_THAT(files.status().message(), HasSubstr(file.string()));
    auto report = Inspect(dir_);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), code) << report.status();
    EXPECT_THAT(report.status().message(), HasSubstr(file.string()));
  }

  fs::path dir_;
  fs::path pb_;
  std::string original_;
};

TEST_F(CorruptSavedModelTest, TruncatedSavedModelPbIsDataLoss) {
  for (size_t keep : {original_.size() / 2, original_.size() - 1, size_t{3}}) {
    SCOPED_TRACE(keep);
    WriteText(pb_, original_.substr(0, keep));
    ExpectError(absl::StatusCode::kDataLoss, pb_);
  }
}

TEST_F(CorruptSavedModelTest, BitFlippedSavedModelPbIsDataLoss) {
  // Byte 2 is the tag of field 2 (meta_graphs, wire type 2); flipping bit 2 makes wire type 6,
  // which no protobuf parser accepts.
  std::string bytes = original_;
  ASSERT_EQ(static_cast<unsigned char>(bytes[2]), 0x12);
  bytes[2] ^= 0x04;
  WriteText(pb_, bytes);
  ExpectError(absl::StatusCode::kDataLoss, pb_);
}

TEST_F(CorruptSavedModelTest, EmptySavedModelPbIsDataLoss) {
  WriteText(pb_, "");
  ExpectError(absl::StatusCode::kDataLoss, pb_);
}

TEST_F(CorruptSavedModelTest, MissingSavedModelPbIsNotFound) {
  fs::remove(pb_);
  ExpectError(absl::StatusCode::kNotFound, dir_);
  auto report = Inspect(dir_);
  EXPECT_THAT(report.status().message(), HasSubstr("saved_model.pb"));
}

TEST_F(CorruptSavedModelTest, CorruptFingerprintIsDataLoss) {
  WriteText(dir_ / "fingerprint.pb", std::string("\xff\xff\xff", 3));
  ExpectError(absl::StatusCode::kDataLoss, dir_ / "fingerprint.pb");
}

TEST_F(CorruptSavedModelTest, TruncatedVariablesIndexNamesTheFile) {
  const fs::path index = dir_ / "variables" / "variables.index";
  const std::string bytes = ReadText(index);
  WriteText(index, bytes.substr(0, bytes.size() / 2));
  auto report = Inspect(dir_);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("variables"));
}

TEST_F(CorruptSavedModelTest, BitFlipsAnywhereNeverCrash) {
  // Every 37th byte, each bit in turn: the result is either a report or an error naming the file.
  // Flips inside strings make protobuf log invalid UTF-8 complaints; they are expected here.
  google::protobuf::LogSilencer silence_protobuf;
  int parsed = 0;
  int failed = 0;
  for (size_t pos = 0; pos < original_.size(); pos += 37) {
    std::string bytes = original_;
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << (pos % 8)));
    WriteText(pb_, bytes);
    auto report = Inspect(dir_, {.all_meta_graphs = true});
    if (!report.ok()) {
      ++failed;
      EXPECT_THAT(report.status().message(), HasSubstr(pb_.string())) << "flip at " << pos;
      continue;
    }
    ++parsed;
    EXPECT_FALSE(FormatInspectText(*report).empty());
    EXPECT_FALSE(FormatInspectJson(*report).empty());
    for (const auto& [key, sig] : report->meta_graph(0).signature_def()) {
      (void)SignatureDot(*report, key);  // may fail; must not crash
    }
  }
  EXPECT_GT(parsed + failed, 100);
}

}  // namespace
}  // namespace savant::loader
