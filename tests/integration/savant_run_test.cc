// `savant run` and `savant inspect` as a user runs them, on TensorFlow Serving's fixtures and the
// project's own example model. Expected values are the fixtures' documented math.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

using ::testing::HasSubstr;

ProcessResult Savant(std::vector<std::string> args) {
  args.insert(args.begin(), SAVANT_BINARY);
  return RunProcess(args);
}

TEST(SavantRunTest, ExampleModelHalfPlusTwo) {
  auto r = Savant({"run", (TestDataDir() / "half_plus_two" / "00000001").string(), "--signature_def",
                   "serving_default", "--inputs", "x=[[1.0],[2.0],[5.0]]"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Result for output key y:\n[[2.5], [3], [4.5]]\n");
}

struct RunCase {
  std::string fixture;
  std::vector<std::string> args;
  std::string expected_out;
};

class FixtureRunTest : public ::testing::TestWithParam<RunCase> {};

TEST_P(FixtureRunTest, PrintsTensorFlowsAnswer) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/" + GetParam().fixture);
  std::vector<std::string> args = {"run", dir.string()};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  auto r = Savant(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, GetParam().expected_out);
}

const char kY[] = "Result for output key y:\n[[2.5], [3], [4.5]]\n";
const char kExamples[] = "inputs=[{\"x\":[1.0],\"x2\":[4.0]},{\"x\":[2.0],\"x2\":[0.0]},{\"x\":[5.0],\"x2\":[-2.0]}]";

INSTANTIATE_TEST_SUITE_P(
    TfServingFixtures, FixtureRunTest,
    ::testing::Values(
        RunCase{"saved_model_half_plus_two_cpu/00000123", {"--inputs", "x=[[1.0],[2.0],[5.0]]"}, kY},
        // The TF2 fixture's signatures take one value of shape [1].
        RunCase{"saved_model_half_plus_two_tf2_cpu/00000123", {"--inputs", "x=[5.0]"},
                "Result for output key y:\n[4.5]\n"},
        RunCase{"saved_model_half_plus_two_gpu/00000123", {"--inputs", "x=[[1.0],[2.0],[5.0]]"}, kY},
        RunCase{"saved_model_half_plus_two_mkl/00000123", {"--inputs", "x=[[1.0],[2.0],[5.0]]"}, kY},
        RunCase{"saved_model_half_plus_two_2_versions/00000124", {"--inputs", "x=[[1.0],[2.0],[5.0]]"}, kY},
        RunCase{"saved_model_half_plus_three/00000123", {"--inputs", "x=[[1.0],[2.0],[5.0]]"},
                "Result for output key y:\n[[3.5], [4], [5.5]]\n"},
        RunCase{"saved_model_half_plus_two_cpu/00000123",
                {"--signature_def", "regress_x_to_y2", "--input_examples", kExamples},
                "Result for output key outputs:\n[[3.5], [4], [5.5]]\n"},
        RunCase{"saved_model_half_plus_two_tf2_cpu/00000123",
                {"--signature_def", "regress_x_to_y", "--input_examples", kExamples},
                "Result for output key outputs:\n[[2.5], [3], [4.5]]\n"},
        RunCase{"saved_model_half_plus_two_tf2_cpu/00000123",
                {"--signature_def", "classify_x2_to_y3", "--inputs", "inputs=[4.0]"},
                "Result for output key scores:\n[5]\n"},
        RunCase{"saved_model_counter/00000123", {"--signature_def", "incr_counter_by", "--inputs", "delta=7"},
                "Result for output key output:\n7\n"}),
    [](const ::testing::TestParamInfo<RunCase>& info) { return "case" + std::to_string(info.index); });

TEST(SavantRunTest, UnknownSignatureExitsNonZeroWithAvailableKeys) {
  auto r = Savant({"run", (TestDataDir() / "half_plus_two" / "00000001").string(), "--signature_def",
                   "nope", "--inputs", "x=[[1.0]]"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("\"nope\" not found"));
  EXPECT_THAT(r.err, HasSubstr("serving_default"));
}

TEST(SavantRunTest, BenchmarkPrintsTimingLine) {
  auto r = Savant({"run", (TestDataDir() / "half_plus_two" / "00000001").string(), "--random_inputs=4",
                   "--benchmark=50", "--threads=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("p50_us=[0-9.e+-]+ p99_us=[0-9.e+-]+ samples_per_s=[0-9.e+-]+\n$"));
}

}  // namespace
}  // namespace savant::testing
