#include "server/warmup.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/crc32c.h"
#include "tests/util/fixtures.h"

namespace savant::server {
namespace {

namespace fs = std::filesystem;
namespace tfs = tensorflow::serving;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TfRecordTest, EmptyRecordHasTheKnownFraming) {
  std::string record = EncodeTfRecord("");
  ASSERT_EQ(record.size(), 16u);
  EXPECT_EQ(record.substr(0, 8), std::string(8, '\0'));
  // The data checksum of nothing is Mask(0) = 0xa282ead8, stored little-endian.
  EXPECT_EQ(record.substr(12), std::string("\xd8\xea\x82\xa2", 4));
  const uint32_t length_crc = loader::crc32c::Mask(loader::crc32c::Value(std::string(8, '\0')));
  EXPECT_EQ(static_cast<uint8_t>(record[8]), length_crc & 0xff);
}

TEST(TfRecordTest, RoundTrip) {
  const std::vector<std::string> data = {"", "abc", std::string(1000, 'x')};
  std::string file;
  for (const auto& d : data) file += EncodeTfRecord(d);
  auto records = DecodeTfRecords(file, "f");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, data);
}

TEST(TfRecordTest, CorruptionIsDataLoss) {
  std::string file = EncodeTfRecord("abc") + EncodeTfRecord("defg");
  std::string flipped = file;
  flipped[12] ^= 1;  // first byte of the first record's data
  auto r = DecodeTfRecords(flipped, "f");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("f: record 0 at byte 0: corrupted record data"));

  auto truncated = DecodeTfRecords(file.substr(0, file.size() - 2), "f");
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(truncated.status().message(), HasSubstr("record 1"));

  EXPECT_EQ(DecodeTfRecords("not a tfrecord", "f").status().code(), absl::StatusCode::kDataLoss);
}

class WarmupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = savant::testing::MakeTempDir("warmup_test");
    savant::testing::CopyTree(savant::testing::TestDataDir() / "half_plus_two" / "00000001", dir_);
    auto model = loader::Model::Load(dir_);
    ASSERT_TRUE(model.ok()) << model.status();
    version_ = {"half_plus_two", 1, dir_, std::shared_ptr<const loader::Model>(*std::move(model))};
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::vector<tfs::PredictionLog>& logs) {
    std::string file;
    for (const auto& log : logs) file += EncodeTfRecord(log.SerializeAsString());
    WriteRaw(file);
  }
  void WriteRaw(const std::string& bytes) {
    fs::create_directories(dir_ / kAssetsExtraDirectory);
    std::ofstream(dir_ / kAssetsExtraDirectory / kWarmupFileName, std::ios::binary) << bytes;
  }

  static tfs::PredictionLog PredictLog(const std::string& input) {
    tfs::PredictionLog log;
    auto& x = (*log.mutable_predict_log()->mutable_request()->mutable_inputs())[input];
    x.set_dtype(tensorflow::DT_FLOAT);
    x.mutable_tensor_shape()->add_dim()->set_size(1);
    x.mutable_tensor_shape()->add_dim()->set_size(1);
    x.add_float_val(1);
    return log;
  }

  fs::path dir_;
  LoadedVersion version_;
};

TEST_F(WarmupTest, NoFileIsFine) { EXPECT_TRUE(RunWarmup(version_, 1, {}).ok()); }

TEST_F(WarmupTest, ReplaysPredictRecords) {
  Write({PredictLog("x"), PredictLog("x")});
  EXPECT_TRUE(RunWarmup(version_, 3, {}).ok());
}

TEST_F(WarmupTest, FailingRecordFailsWithItsNumber) {
  Write({PredictLog("x"), PredictLog("nope")});
  absl::Status s = RunWarmup(version_, 1, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("record 1: model \"half_plus_two\" version 1"));
  EXPECT_THAT(s.message(), HasSubstr("input tensor alias not found in signature: nope"));
}

TEST_F(WarmupTest, UnsupportedLogTypeIsUnimplemented) {
  tfs::PredictionLog log;
  log.mutable_session_run_log();
  Write({log});
  EXPECT_EQ(RunWarmup(version_, 1, {}).code(), absl::StatusCode::kUnimplemented);
}

TEST_F(WarmupTest, NotTfRecordIsDataLoss) {
  WriteRaw("garbage");
  absl::Status s = RunWarmup(version_, 1, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("Please verify your warmup data is in TFRecord format."));
}

TEST_F(WarmupTest, TooManyRecords) {
  Write(std::vector<tfs::PredictionLog>(kMaxWarmupRecords + 1, PredictLog("x")));
  absl::Status s = RunWarmup(version_, 1, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("Number of warmup records exceeds the maximum (1000)"));
}

}  // namespace
}  // namespace savant::server
