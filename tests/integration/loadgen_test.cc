// The real `savant-loadgen` against the real server (the project's own half_plus_two): a closed-loop
// gRPC sweep and an open-loop KServe REST step, about 10 s in all. The requests the load generator
// counts as successful must equal the increase of the server's Prometheus counter
// savant_requests_total for that API, protocol and code OK, scraped from the REST port before and
// after; the open-loop step must schedule exactly rate x duration requests.
#include <unistd.h>

#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/process.h"
#include "tests/integration/rest_test_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kMetricsPath[] = "/monitoring/prometheus/metrics";

// Sum of savant_requests_total over the series whose labels include every pair in `want`.
absl::StatusOr<double> RequestCount(HttpClient& http, const std::map<std::string, std::string>& want) {
  auto page = http.Get(kMetricsPath);
  if (!page.ok()) return page.status();
  if (page->status != 200) return absl::UnavailableError(absl::StrCat("metrics page: HTTP ", page->status));
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(page->body, '\n')) {
    if (!absl::ConsumePrefix(&line, "savant_requests_total{")) continue;
    const size_t close = line.rfind('}');
    if (close == absl::string_view::npos) continue;
    const absl::string_view labels = line.substr(0, close);
    bool match = true;
    for (const auto& [k, v] : want) match = match && absl::StrContains(labels, absl::StrCat(k, "=\"", v, "\""));
    double value = 0;
    if (match && absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(close + 1)), &value)) sum += value;
  }
  return sum;
}

struct LoadgenRun {
  ProcessResult process;
  rapidjson::Document json;
  int64_t total_ok = 0;
  int64_t total_errors = 0;
};

LoadgenRun RunLoadgen(std::vector<std::string> args, const fs::path& json_path) {
  args.insert(args.begin(), SAVANT_LOADGEN_BINARY);
  args.push_back("--json");
  args.push_back(json_path.string());
  LoadgenRun run;
  run.process = RunProcess(args);
  std::ifstream in(json_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  run.json = ParseJson(text);
  if (!run.json.HasParseError() && run.json.IsObject()) {
    run.total_ok = run.json["total_ok"].GetInt64();
    run.total_errors = run.json["total_errors"].GetInt64();
  }
  return run;
}

// The counter increase settles once the server has recorded the last request; poll briefly.
double SettledDelta(HttpClient& http, const std::map<std::string, std::string>& labels, double before, int64_t want) {
  double delta = -1;
  for (int i = 0; i < 20; ++i) {
    auto after = RequestCount(http, labels);
    if (!after.ok()) continue;
    delta = *after - before;
    if (delta == static_cast<double>(want)) break;
    usleep(100000);
  }
  return delta;
}

TEST(LoadgenTest, SweepCountsMatchThePrometheusRequestCounter) {
  const fs::path dir = MakeTempDir("loadgen_test");
  CopyTree(TestDataDir() / "half_plus_two", dir / "models" / "half_plus_two");
  WriteFileAtomically(dir / "monitoring.config",
                      absl::StrCat("prometheus_config { enable: true path: \"", kMetricsPath, "\" }\n"));
  auto server = ServerProcess::Start({"--model_name=half_plus_two",
                                      "--model_base_path=" + (dir / "models" / "half_plus_two").string(),
                                      absl::StrCat("--rest_api_port=", FreeLoopbackPort()),
                                      "--monitoring_config_file=" + (dir / "monitoring.config").string()},
                                     dir);
  ASSERT_TRUE(server.ok()) << server.status();
  HttpClient http((*server)->rest_port());
  const std::map<std::string, std::string> grpc_predict = {
      {"model", "half_plus_two"}, {"api", "predict"}, {"protocol", "grpc"}, {"code", "OK"}};
  const std::map<std::string, std::string> rest_infer = {
      {"model", "half_plus_two"}, {"api", "kserve_model_infer"}, {"protocol", "rest"}, {"code", "OK"}};
  auto grpc_before = RequestCount(http, grpc_predict);
  ASSERT_TRUE(grpc_before.ok()) << grpc_before.status();
  auto rest_before = RequestCount(http, rest_infer);
  ASSERT_TRUE(rest_before.ok()) << rest_before.status();

  // Closed loop over gRPC, TensorFlow Serving API: 3 steps x 2 s, literal inputs.
  const fs::path csv = dir / "sweep.csv", png = dir / "sweep.png";
  LoadgenRun sweep = RunLoadgen({"--server", (*server)->address(), "--model", "half_plus_two", "--concurrency", "1,2,4",
                                 "--duration", "2", "--inputs", "x=[[1.0],[2.0],[5.0]]", "--csv", csv.string(),
                                 "--plot", png.string()},
                                dir / "sweep.json");
  ASSERT_EQ(sweep.process.exit_code, 0) << sweep.process.err;
  ASSERT_FALSE(sweep.json.HasParseError());
  EXPECT_GT(sweep.total_ok, 0);
  EXPECT_EQ(sweep.total_errors, 0) << sweep.process.err;
  ASSERT_EQ(sweep.json["steps"].Size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& step = sweep.json["steps"][i];
    EXPECT_EQ(step["concurrency"].GetInt(), 1 << i);
    EXPECT_GT(step["ok"].GetInt64(), 0);
    const auto& lat = step["latency_ms"];
    // Percentiles are ordered and bounded by the extremes.
    EXPECT_LE(lat["min"].GetDouble(), lat["p50"].GetDouble());
    EXPECT_LE(lat["p50"].GetDouble(), lat["p90"].GetDouble());
    EXPECT_LE(lat["p90"].GetDouble(), lat["p99"].GetDouble());
    EXPECT_LE(lat["p99"].GetDouble(), lat["p999"].GetDouble());
    EXPECT_LE(lat["p999"].GetDouble(), lat["max"].GetDouble());
    // Throughput is successes over the step's time.
    EXPECT_NEAR(step["throughput_rps"].GetDouble(), step["ok"].GetInt64() / step["elapsed_s"].GetDouble(),
                0.1 + step["throughput_rps"].GetDouble() * 1e-3);
  }
  EXPECT_EQ(SettledDelta(http, grpc_predict, *grpc_before, sweep.total_ok), static_cast<double>(sweep.total_ok));
  EXPECT_THAT(sweep.process.err, HasSubstr("[step 1/3] concurrency=1")) << "no progress line";
  std::ifstream csv_in(csv);
  std::string csv_text((std::istreambuf_iterator<char>(csv_in)), std::istreambuf_iterator<char>());
  std::vector<std::string> rows = absl::StrSplit(csv_text, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 4u) << csv_text;
  EXPECT_THAT(rows[0], ::testing::StartsWith("mode,concurrency,target_rps,elapsed_s,ok,errors,throughput_rps"));
  if (fs::exists("/usr/bin/gnuplot")) {
    std::ifstream png_in(png, std::ios::binary);
    char magic[8] = {};
    png_in.read(magic, 8);
    EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << "no PNG plot written";
  } else {
    EXPECT_THAT(sweep.process.err, HasSubstr("gnuplot not found"));
  }

  // Open loop over REST, KServe v2, inputs generated from metadata: 150 requests/s for 2 s is
  // exactly 300 scheduled requests (the k-th at k/150 s, k = 0..299).
  LoadgenRun open = RunLoadgen({"--server", absl::StrCat("127.0.0.1:", (*server)->rest_port()), "--protocol", "rest",
                                "--api", "kserve", "--model", "half_plus_two", "--rate", "150", "--duration", "2",
                                "--max_inflight", "8", "--batch", "4"},
                               dir / "open.json");
  ASSERT_EQ(open.process.exit_code, 0) << open.process.err;
  EXPECT_EQ(open.total_ok + open.total_errors, 300);
  EXPECT_EQ(open.total_errors, 0) << open.process.err;
  EXPECT_STREQ(open.json["steps"][0]["mode"].GetString(), "open");
  EXPECT_EQ(SettledDelta(http, rest_infer, *rest_before, open.total_ok), static_cast<double>(open.total_ok));
}

TEST(LoadgenTest, UnknownModelBadFlagsAndRejectedRequests) {
  const fs::path dir = MakeTempDir("loadgen_test_errors");
  CopyTree(TestDataDir() / "half_plus_two", dir / "models" / "half_plus_two");
  auto server = ServerProcess::Start(
      {"--model_name=half_plus_two", "--model_base_path=" + (dir / "models" / "half_plus_two").string()}, dir);
  ASSERT_TRUE(server.ok()) << server.status();
  auto unknown = RunProcess({SAVANT_LOADGEN_BINARY, "--server", (*server)->address(), "--model", "nope", "--duration", "1"});
  EXPECT_EQ(unknown.exit_code, 4) << unknown.err;
  EXPECT_EQ(unknown.err, "savant-loadgen: NOT_FOUND: Servable not found for request: Latest(nope)\n");
  auto usage = RunProcess({SAVANT_LOADGEN_BINARY, "--model", "m", "--concurrency", "0"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  auto alias = RunProcess({SAVANT_LOADGEN_BINARY, "--server", (*server)->address(), "--model", "half_plus_two",
                           "--inputs", "nope=[[1.0]]", "--duration", "1"});
  EXPECT_EQ(alias.exit_code, 2) << alias.err;
  EXPECT_THAT(alias.err, HasSubstr("\"nope\""));

  // Every request rejected (KServe carries the signature to the server, which has no "nosig"):
  // all of them are counted under the one gRPC code, none as successes, and the exit code says so.
  LoadgenRun rejected = RunLoadgen({"--server", (*server)->address(), "--api", "kserve", "--model", "half_plus_two",
                                    "--signature", "nosig", "--concurrency", "1", "--duration", "1", "--quiet"},
                                   dir / "rejected.json");
  EXPECT_EQ(rejected.process.exit_code, 1) << rejected.process.err;
  ASSERT_FALSE(rejected.json.HasParseError());
  EXPECT_EQ(rejected.total_ok, 0);
  EXPECT_GT(rejected.total_errors, 0);
  const auto& codes = rejected.json["steps"][0]["errors_by_code"];
  ASSERT_EQ(codes.MemberCount(), 1u);
  EXPECT_THAT(codes.MemberBegin()->name.GetString(),
              ::testing::AnyOf(::testing::StrEq("FAILED_PRECONDITION"), ::testing::StrEq("INVALID_ARGUMENT")));
  EXPECT_EQ(codes.MemberBegin()->value.GetInt64(), rejected.total_errors);
  EXPECT_THAT(rejected.process.err, HasSubstr("nosig"));
}

}  // namespace
}  // namespace savant::testing
