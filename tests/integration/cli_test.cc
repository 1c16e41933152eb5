// The real `savant-cli` binary against the real server, for every subcommand over gRPC and REST,
// TensorFlow Serving and KServe v2 APIs. Expected values come from the models' math (half_plus_two:
// y = 0.5 * x + 2, so x = [1, 2, 5] gives [2.5, 3, 4.5]), the signatures TensorFlow Serving's
// half_plus_two fixture declares, and the exit codes savant-cli --help documents (0 ok, 2 usage,
// 3 unavailable, 4 not found, 5 rejected). The project's own tests/testdata/half_plus_two runs
// always; TensorFlow Serving's fixture adds classify/regress and is skipped when missing.
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/process.h"
#include "tests/integration/rest_test_util.h"
#include "tests/integration/suite_server.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Endpoint {
  std::string protocol;
  std::string api;
};
const Endpoint kEndpoints[] = {{"grpc", "tfserving"}, {"rest", "tfserving"}, {"grpc", "kserve"}, {"rest", "kserve"}};

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = SuiteServer::Start({.name = "cli_test",
                                 .models = {{"half_plus_two", TestDataDir() / "half_plus_two"},
                                            {.name = "tf_half_plus_two",
                                             .source = "tfserving/saved_model_half_plus_two_cpu",
                                             .optional = true}},
                                 .flags = {absl::StrCat("--rest_api_port=", FreeLoopbackPort())}});
  }
  static void TearDownTestSuite() { suite_.reset(); }
  void SetUp() override {
    SAVANT_SUITE_SERVER_OR_SKIP(*suite_);
    ASSERT_GT(server().rest_port(), 0);
  }

  static std::string Server(const std::string& protocol) {
    return absl::StrCat("127.0.0.1:", protocol == "rest" ? server().rest_port() : server().grpc_port());
  }
  // savant-cli COMMAND --server ... --protocol P --api A ARGS...
  static ProcessResult Cli(const std::string& command, const Endpoint& e, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {SAVANT_CLI_BINARY, command, "--server", Server(e.protocol),
                                     "--protocol", e.protocol, "--api", e.api};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  static ServerProcess& server() { return suite_->process(); }
  static inline std::unique_ptr<SuiteServer> suite_;
};

std::string Where(const Endpoint& e, const ProcessResult& r) {
  return absl::StrCat(e.protocol, "/", e.api, " exit ", r.exit_code, "\nstdout: ", r.out, "\nstderr: ", r.err);
}

// The floats of a JSON nested list, flattened.
std::vector<double> Flat(const rapidjson::Value& v) {
  std::vector<double> out;
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      auto sub = Flat(e);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  } else if (v.IsNumber()) {
    out.push_back(v.GetDouble());
  }
  return out;
}

void ExpectHalfPlusTwo(const Endpoint& e, const ProcessResult& r) {
  ASSERT_EQ(r.exit_code, 0) << Where(e, r);
  EXPECT_EQ(r.err, "") << Where(e, r);
  auto doc = ParseJson(r.out);
  ASSERT_FALSE(doc.HasParseError()) << Where(e, r);
  ASSERT_TRUE(doc.HasMember("outputs") && doc["outputs"].HasMember("y")) << Where(e, r);
  const auto& y = doc["outputs"]["y"];
  EXPECT_STREQ(y["dtype"].GetString(), "DT_FLOAT") << Where(e, r);
  EXPECT_EQ(Flat(y["shape"]), (std::vector<double>{3, 1})) << Where(e, r);
  EXPECT_EQ(Flat(y["value"]), (std::vector<double>{2.5, 3.0, 4.5})) << Where(e, r);
}

TEST_F(CliTest, PredictHalfPlusTwoOverEveryProtocolAndApi) {
  for (const Endpoint& e : kEndpoints) {
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=[[1.0],[2.0],[5.0]]"}));
    auto table = Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=[[1.0],[2.0],[5.0]]", "--output", "table"});
    ASSERT_EQ(table.exit_code, 0) << Where(e, table);
    std::vector<std::string> lines = absl::StrSplit(table.out, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), 2u) << Where(e, table);
    EXPECT_THAT(lines[0], ::testing::StartsWith("output"));
    EXPECT_THAT(lines[1], ::testing::MatchesRegex("y +DT_FLOAT +\\[3,1\\] +\\[\\[2\\.5\\], \\[3\\], \\[4\\.5\\]\\]"));
  }
}

TEST_F(CliTest, PredictVersionAndSignatureSelectTheSameFunction) {
  for (const Endpoint& e : kEndpoints) {
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--version", "1", "--signature",
                                            "serving_default", "--inputs", "x=[[1.0],[2.0],[5.0]]"}));
  }
}

// A float32 [3,1] .npy file holding 1, 2, 5, written byte by byte from NumPy's format description
// (magic, version 1.0, little-endian header length, a dict padded so data starts at a multiple of 64).
void WriteNpy(const fs::path& path) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  for (float v : {1.0f, 2.0f, 5.0f}) {
    char raw[4];
    std::memcpy(raw, &v, 4);
    bytes.append(raw, 4);
  }
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST_F(CliTest, PredictInputsFromNpyAndJsonFiles) {
  const fs::path npy = suite_->dir() / "x.npy", literal = suite_->dir() / "x.json", object = suite_->dir() / "inputs.json";
  WriteNpy(npy);
  std::ofstream(literal) << "[[1.0], [2.0], [5.0]]";
  std::ofstream(object) << R"({"inputs": {"x": [[1.0], [2.0], [5.0]]}})";
  for (const Endpoint& e : kEndpoints) {
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=@" + npy.string()}));
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=" + npy.string()}));
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=@" + literal.string()}));
    ExpectHalfPlusTwo(e, Cli("predict", e, {"--model", "half_plus_two", "--inputs", "@" + object.string()}));
  }
}

TEST_F(CliTest, StatusReportsAvailableVersion) {
  for (const Endpoint& e : kEndpoints) {
    auto r = Cli("status", e, {"--model", "half_plus_two"});
    ASSERT_EQ(r.exit_code, 0) << Where(e, r);
    auto doc = ParseJson(r.out);
    ASSERT_FALSE(doc.HasParseError()) << Where(e, r);
    if (e.api == "kserve") {
      EXPECT_TRUE(doc["ready"].GetBool()) << Where(e, r);
      continue;
    }
    // TensorFlow Serving's GetModelStatusResponse in proto3 JSON (int64 as a string).
    ASSERT_EQ(doc["model_version_status"].Size(), 1u) << Where(e, r);
    EXPECT_STREQ(doc["model_version_status"][0]["version"].GetString(), "1");
    EXPECT_STREQ(doc["model_version_status"][0]["state"].GetString(), "AVAILABLE");
    EXPECT_STREQ(doc["model_version_status"][0]["status"]["error_code"].GetString(), "OK");
    auto table = Cli("status", e, {"--model", "half_plus_two", "--output", "table"});
    EXPECT_THAT(table.out, ::testing::ContainsRegex("\n1 +AVAILABLE")) << Where(e, table);
  }
}

TEST_F(CliTest, MetadataNamesSignatureInputsAndDtypes) {
  std::string tfs_json[2];
  for (const Endpoint& e : kEndpoints) {
    auto r = Cli("metadata", e, {"--model", "half_plus_two"});
    ASSERT_EQ(r.exit_code, 0) << Where(e, r);
    auto doc = ParseJson(r.out);
    ASSERT_FALSE(doc.HasParseError()) << Where(e, r);
    if (e.api == "kserve") {
      EXPECT_STREQ(doc["name"].GetString(), "half_plus_two");
      ASSERT_EQ(doc["inputs"].Size(), 1u) << Where(e, r);
      EXPECT_STREQ(doc["inputs"][0]["name"].GetString(), "x");
      EXPECT_STREQ(doc["inputs"][0]["datatype"].GetString(), "FP32");
      EXPECT_STREQ(doc["outputs"][0]["name"].GetString(), "y");
    } else {
      const auto& sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"];
      ASSERT_TRUE(sig.IsObject()) << Where(e, r);
      EXPECT_STREQ(sig["inputs"]["x"]["dtype"].GetString(), "DT_FLOAT");
      EXPECT_STREQ(sig["outputs"]["y"]["dtype"].GetString(), "DT_FLOAT");
      EXPECT_STREQ(sig["method_name"].GetString(), "tensorflow/serving/predict");
      EXPECT_STREQ(doc["model_spec"]["version"].GetString(), "1");
      tfs_json[e.protocol == "rest"] = r.out;
    }
    auto table = Cli("metadata", e, {"--model", "half_plus_two", "--output", "table"});
    EXPECT_THAT(table.out, ::testing::ContainsRegex("serving_default +input +x +DT_FLOAT +\\[-1,1\\]")) << Where(e, table);
    EXPECT_THAT(table.out, ::testing::ContainsRegex("serving_default +output +y +DT_FLOAT +\\[-1,1\\]")) << Where(e, table);
  }
  // gRPC and REST carry the same GetModelMetadata answer.
  auto grpc = ParseJson(tfs_json[0]), rest = ParseJson(tfs_json[1]);
  std::string diff;
  EXPECT_TRUE(JsonValuesEqual(grpc, rest, &diff)) << diff;
}

TEST_F(CliTest, UnknownModelExitsFourWithOneReadableLine) {
  for (const Endpoint& e : kEndpoints) {
    for (const std::string command : {"predict", "metadata", "status"}) {
      auto r = Cli(command, e, {"--model", "nope", "--inputs", "x=[[1.0]]"});
      EXPECT_EQ(r.exit_code, 4) << command << " " << Where(e, r);
      EXPECT_EQ(r.out, "") << command << " " << Where(e, r);
      EXPECT_THAT(r.err, ::testing::MatchesRegex("savant-cli: NOT_FOUND: [^\n]*nope[^\n]*\n")) << command << " " << Where(e, r);
    }
  }
  // TensorFlow Serving's own wording for an unknown model.
  auto r = Cli("predict", kEndpoints[0], {"--model", "nope", "--inputs", "x=[[1.0]]"});
  EXPECT_EQ(r.err, "savant-cli: NOT_FOUND: Servable not found for request: Latest(nope)\n");
  auto version = Cli("status", kEndpoints[0], {"--model", "half_plus_two", "--version", "42"});
  EXPECT_EQ(version.exit_code, 4) << Where(kEndpoints[0], version);
}

TEST_F(CliTest, RejectedRequestsExitFive) {
  for (const Endpoint& e : kEndpoints) {
    if (e.api == "tfserving") {
      // TensorFlow Serving answers an unknown version label with INVALID_ARGUMENT, in these words.
      auto r = Cli("predict", e, {"--model", "half_plus_two", "--label", "nolabel", "--inputs", "x=[[1.0]]"});
      EXPECT_EQ(r.exit_code, 5) << Where(e, r);
      EXPECT_EQ(r.err, "savant-cli: INVALID_ARGUMENT: Unrecognized servable version label: nolabel\n") << Where(e, r);
    }
    auto sig = Cli("predict", e, {"--model", "half_plus_two", "--signature", "nosig", "--inputs", "x=[[1.0]]"});
    EXPECT_EQ(sig.exit_code, 5) << Where(e, sig);
    EXPECT_THAT(sig.err, ::testing::MatchesRegex("savant-cli: (FAILED_PRECONDITION|INVALID_ARGUMENT): [^\n]*nosig[^\n]*\n")) << Where(e, sig);
  }
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const Endpoint& e = kEndpoints[0];
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {SAVANT_CLI_BINARY},
           {SAVANT_CLI_BINARY, "frobnicate", "--model", "m"},
           {SAVANT_CLI_BINARY, "predict", "--model", "half_plus_two"},
           {SAVANT_CLI_BINARY, "predict", "--protocol", "carrier-pigeon", "--model", "m", "--inputs", "x=[1]"},
           {SAVANT_CLI_BINARY, "status", "--model", "m", "--version", "seven"},
           {SAVANT_CLI_BINARY, "classify", "--api", "kserve", "--model", "m", "--examples", "[]"},
           {SAVANT_CLI_BINARY, "reload", "--protocol", "rest", "--config", "/dev/null"},
           {SAVANT_CLI_BINARY, "status", "--model", "m", "--bogus", "1"}}) {
    auto r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << "\n" << r.err;
    EXPECT_THAT(r.err, ::testing::MatchesRegex("savant-cli: [^\n]+\n")) << absl::StrJoin(args, " ");
  }
  // Unparsable --inputs and an unknown input alias are caught before anything is sent.
  auto bad = Cli("predict", e, {"--model", "half_plus_two", "--inputs", "x=[[1.0],[2.0]"});
  EXPECT_EQ(bad.exit_code, 2) << Where(e, bad);
  auto alias = Cli("predict", e, {"--model", "half_plus_two", "--inputs", "z=[[1.0]]"});
  EXPECT_EQ(alias.exit_code, 2) << Where(e, alias);
  EXPECT_THAT(alias.err, HasSubstr("\"z\"")) << Where(e, alias);
  auto help = RunProcess({SAVANT_CLI_BINARY, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("exit codes"));
}

TEST_F(CliTest, UnreachableServerExitsThree) {
  const int port = FreeLoopbackPort();  // nothing listens there
  for (const std::string protocol : {"grpc", "rest"}) {
    auto r = RunProcess({SAVANT_CLI_BINARY, "status", "--server", absl::StrCat("127.0.0.1:", port), "--protocol",
                         protocol, "--model", "half_plus_two", "--timeout", "5"});
    EXPECT_EQ(r.exit_code, 3) << protocol << " " << r.err;
    EXPECT_THAT(r.err, ::testing::MatchesRegex("savant-cli: (UNAVAILABLE|DEADLINE_EXCEEDED): [^\n]+\n")) << protocol;
  }
}

// TensorFlow Serving's half_plus_two: classify_x_to_y and regress_x_to_y read tf.Examples with a
// float feature "x" and answer 0.5 * x + 2.
TEST_F(CliTest, ClassifyAndRegressFixtureExamples) {
  if (!suite_->missing().empty()) GTEST_SKIP() << suite_->missing();
  const std::string examples = R"([{"x": [1.0]}, {"x": [2.0]}, {"x": [5.0]}])";
  for (int i = 0; i < 2; ++i) {
    const Endpoint& e = kEndpoints[i];
    auto c = Cli("classify", e, {"--model", "tf_half_plus_two", "--signature", "classify_x_to_y", "--examples", examples});
    ASSERT_EQ(c.exit_code, 0) << Where(e, c);
    auto doc = ParseJson(c.out);
    ASSERT_FALSE(doc.HasParseError()) << Where(e, c);
    ASSERT_EQ(doc["results"].Size(), 3u) << Where(e, c);
    const double want[] = {2.5, 3.0, 4.5};
    for (int k = 0; k < 3; ++k) {
      ASSERT_EQ(doc["results"][k].Size(), 1u) << Where(e, c);
      EXPECT_DOUBLE_EQ(doc["results"][k][0][1].GetDouble(), want[k]) << Where(e, c);
    }
    auto r = Cli("regress", e, {"--model", "tf_half_plus_two", "--signature", "regress_x_to_y", "--examples", examples});
    ASSERT_EQ(r.exit_code, 0) << Where(e, r);
    auto rdoc = ParseJson(r.out);
    ASSERT_FALSE(rdoc.HasParseError()) << Where(e, r);
    EXPECT_EQ(Flat(rdoc["results"]), (std::vector<double>{2.5, 3.0, 4.5})) << Where(e, r);
    auto table = Cli("regress", e, {"--model", "tf_half_plus_two", "--signature", "regress_x_to_y", "--examples",
                                    examples, "--output", "table"});
    EXPECT_THAT(table.out, ::testing::ContainsRegex("\n2 +4\\.5\n")) << Where(e, table);
    // The fixture's predict signature through the same binary.
    auto p = Cli("predict", e, {"--model", "tf_half_plus_two", "--inputs", "x=[[1.0],[2.0],[5.0]]"});
    ExpectHalfPlusTwo(e, p);
  }
}

// Reload runs against a server of its own: it replaces the model list.
TEST(CliReloadTest, ReloadAddsAModelAndRejectsBadConfigs) {
  const fs::path dir = MakeTempDir("cli_reload_test");
  CopyTree(TestDataDir() / "half_plus_two", dir / "models" / "a");
  auto config_for = [&](const std::vector<std::string>& names) {
    std::string c = "model_config_list {\n";
    for (const auto& n : names) {
      absl::StrAppend(&c, "  config { name: \"", n, "\" base_path: \"", (dir / "models" / "a").string(),
                      "\" model_platform: \"tensorflow\" }\n");
    }
    return c + "}\n";
  };
  WriteFileAtomically(dir / "start.config", config_for({"first"}));
  auto server = ServerProcess::Start({"--model_config_file=" + (dir / "start.config").string()}, dir);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SAVANT_CLI_BINARY);
    args.insert(args.begin() + 2, {"--server", address});
    return RunProcess(args);
  };
  EXPECT_EQ(cli({"status", "--model", "second"}).exit_code, 4);
  WriteFileAtomically(dir / "two.config", config_for({"first", "second"}));
  auto r = cli({"reload", "--config", (dir / "two.config").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = ParseJson(r.out);
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  EXPECT_STREQ(doc["status"].GetString(), "OK");
  // HandleReloadConfigRequest returns once the new config is applied; poll briefly anyway.
  ProcessResult status;
  for (int i = 0; i < 50; ++i) {
    status = cli({"status", "--model", "second"});
    if (status.exit_code == 0) break;
    usleep(100000);
  }
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("AVAILABLE"));
  auto p = cli({"predict", "--model", "second", "--inputs", "x=[[1.0],[2.0],[5.0]]"});
  ExpectHalfPlusTwo(kEndpoints[0], p);

  std::ofstream(dir / "bad.config") << "model_config_list { config { nme: \"x\" } }";
  auto bad = cli({"reload", "--config", (dir / "bad.config").string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, ::testing::MatchesRegex("savant-cli: INVALID_ARGUMENT: [^\n]*nme[^\n]*\n"));
  // A config the server refuses comes back as the server's error (TensorFlow Serving's wording).
  WriteFileAtomically(dir / "dup.config", config_for({"first", "first"}));
  auto refused = cli({"reload", "--config", (dir / "dup.config").string()});
  EXPECT_EQ(refused.exit_code, 5) << refused.out;
  EXPECT_EQ(refused.err, "savant-cli: INVALID_ARGUMENT: Illegal to list model first multiple times in config list\n");
}

}  // namespace
}  // namespace savant::testing
