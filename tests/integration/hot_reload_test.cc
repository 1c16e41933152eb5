// Model lifecycle of the real `savant` binary while clients keep sending requests: new versions
// appearing, versions and models going away, config reloads (file poll, SIGHUP, RPC), broken
// versions, and shutdown on SIGTERM/SIGINT. "Zero failed requests" is checked over gRPC, with
// clients that run for the whole transition.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/process.h"
#include "tests/integration/server_process.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
namespace tfs = tensorflow::serving;
using ::testing::HasSubstr;

constexpr absl::Duration kPollInterval = absl::Seconds(1);

// Sends Predict requests for one model from a few threads until stopped, and records what came
// back. Thread-safe.
class LoadGenerator {
 public:
  LoadGenerator(std::shared_ptr<grpc::Channel> channel, std::string model, int threads = 2) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, channel, model](std::stop_token stop) {
        auto stub = tfs::PredictionService::NewStub(channel);
        tfs::PredictRequest request;
        request.mutable_model_spec()->set_name(model);
        (*request.mutable_inputs())["x"] = FloatColumn({1, 2, 5});
        while (!stop.stop_requested()) {
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          tfs::PredictResponse response;
          grpc::Status s = stub->Predict(&context, request, &response);
          Record(s, response);
        }
      });
    }
  }
  ~LoadGenerator() { Stop(); }

  void Stop() {
    for (auto& t : threads_) t.request_stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  int64_t ok() const { return ok_; }
  int64_t failed() const { return failed_; }
  std::string errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }
  std::optional<absl::Time> FirstSeen(int64_t version) const {
    std::lock_guard lock(mu_);
    auto it = first_seen_.find(version);
    if (it == first_seen_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<grpc::StatusCode> error_codes() const {
    std::lock_guard lock(mu_);
    return codes_;
  }

  // Blocks until `version` answered (true) or `timeout` passed (false).
  bool WaitForVersion(int64_t version, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (FirstSeen(version).has_value()) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  // Blocks until `n` more requests succeeded.
  void WaitForSuccesses(int64_t n) const {
    const int64_t target = ok_ + n;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (ok_ < target && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  }

 private:
  void Record(const grpc::Status& s, const tfs::PredictResponse& response) {
    const absl::Time now = absl::Now();
    std::lock_guard lock(mu_);
    if (s.ok()) {
      ++ok_;
      first_seen_.emplace(response.model_spec().version().value(), now);
    } else {
      ++failed_;
      codes_.push_back(s.error_code());
      if (errors_.size() < 2000) absl::StrAppend(&errors_, s.error_code(), ": ", s.error_message(), "\n");
    }
  }

  mutable std::mutex mu_;
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
  std::string errors_;
  std::vector<grpc::StatusCode> codes_;
  std::map<int64_t, absl::Time> first_seen_;
  std::vector<std::jthread> threads_;
};

class HotReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fixtures = FixturesRoot();
    if (!fixtures.ok()) GTEST_SKIP() << fixtures.status().message();
    two_versions_ = *fixtures / "tfserving" / "saved_model_half_plus_two_2_versions";
    half_plus_three_ = *fixtures / "tfserving" / "saved_model_half_plus_three";
    for (const auto& p : {two_versions_, half_plus_three_}) {
      if (!fs::exists(p)) GTEST_SKIP() << "fixture missing: " << p.string();
    }
    dir_ = MakeTempDir("hot_reload_test");
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void Start(const std::vector<std::string>& args) {
    auto server = ServerProcess::Start(args, dir_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // The fixture version `version` of the two-version model, copied to `base`.
  void AddVersion(const fs::path& base, int version) {
    fs::create_directories(base);
    CopyDirAtomically(two_versions_ / absl::StrCat("00000", version), base / absl::StrCat("00000", version));
  }

  // Version `version` with its variables cut short: the graph reads, the restore fails.
  void AddBrokenVersion(const fs::path& base, int version) {
    const fs::path staging = dir_ / absl::StrCat("staging-", version);
    CopyTree(two_versions_ / "00000123", staging);
    fs::resize_file(staging / "variables" / "variables.data-00000-of-00001", 4);
    fs::create_directories(base);
    fs::rename(staging, base / absl::StrCat("00000", version));
  }

  std::string ConfigText(const std::vector<std::pair<std::string, fs::path>>& models, const std::string& extra = "") {
    std::string text = "model_config_list {\n";
    for (const auto& [name, path] : models) {
      absl::StrAppend(&text, "  config { name: \"", name, "\" base_path: \"", path.string(),
                      "\" model_platform: \"tensorflow\" ", name == "a" ? extra : "", " }\n");
    }
    return text + "}\n";
  }

  std::vector<tfs::ModelVersionStatus> Status(const std::string& model) {
    auto stub = tfs::ModelService::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    tfs::GetModelStatusRequest request;
    request.mutable_model_spec()->set_name(model);
    tfs::GetModelStatusResponse response;
    if (!stub->GetModelStatus(&context, request, &response).ok()) return {};
    return {response.model_version_status().begin(), response.model_version_status().end()};
  }

  std::optional<tfs::ModelVersionStatus> VersionStatus(const std::string& model, int64_t version) {
    for (const auto& v : Status(model)) {
      if (v.version() == version) return v;
    }
    return std::nullopt;
  }

  // Waits until version `version` of `model` reaches `state`; false after `timeout`.
  bool WaitForState(const std::string& model, int64_t version, tfs::ModelVersionStatus::State state,
                    absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      auto v = VersionStatus(model, version);
      if (v.has_value() && v->state() == state) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  grpc::Status PredictOnce(const std::string& model, tfs::PredictResponse* response) {
    auto stub = tfs::PredictionService::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    tfs::PredictRequest request;
    request.mutable_model_spec()->set_name(model);
    (*request.mutable_inputs())["x"] = FloatColumn({1, 2, 5});
    return stub->Predict(&context, request, response);
  }

  // Waits until Predict on `model` fails with `code`; false after `timeout`.
  bool WaitForPredictCode(const std::string& model, grpc::StatusCode code, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      tfs::PredictResponse response;
      if (PredictOnce(model, &response).error_code() == code) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  fs::path dir_, two_versions_, half_plus_three_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(HotReloadTest, NewVersionServesWithinTwoPollIntervalsWithZeroFailedRequests) {
  const fs::path base = dir_ / "models" / "hp2";
  AddVersion(base, 123);
  Start({"--model_name=hp2", "--model_base_path=" + base.string(), "--file_system_poll_wait_seconds=1"});
  LoadGenerator load(server_->channel(), "hp2");
  load.WaitForSuccesses(50);

  const absl::Time copied = absl::Now();
  AddVersion(base, 124);
  ASSERT_TRUE(load.WaitForVersion(124, 4 * kPollInterval)) << server_->log();
  EXPECT_LT(*load.FirstSeen(124) - copied, 2 * kPollInterval);
  load.WaitForSuccesses(50);
  load.Stop();

  EXPECT_EQ(load.failed(), 0) << load.errors();
  EXPECT_GT(load.ok(), 100);
  EXPECT_TRUE(WaitForState("hp2", 123, tfs::ModelVersionStatus::END, 2 * kPollInterval));
  EXPECT_EQ(VersionStatus("hp2", 124)->state(), tfs::ModelVersionStatus::AVAILABLE);
}

TEST_F(HotReloadTest, RemovingAVersionAndAModelKeepsTheOthersServing) {
  const fs::path a = dir_ / "models" / "a";
  const fs::path b = dir_ / "models" / "b";
  AddVersion(a, 123);
  AddVersion(a, 124);
  CopyTree(half_plus_three_, b);
  const fs::path config = dir_ / "models.config";
  const std::string policy_all = "model_version_policy { all {} }";
  WriteFileAtomically(config, ConfigText({{"a", a}, {"b", b}}, policy_all));
  Start({"--model_config_file=" + config.string(), "--model_config_file_poll_wait_seconds=1",
         "--file_system_poll_wait_seconds=1"});
  ASSERT_EQ(VersionStatus("a", 123)->state(), tfs::ModelVersionStatus::AVAILABLE);
  LoadGenerator load(server_->channel(), "a");
  load.WaitForSuccesses(50);

  fs::remove_all(a / "00000123");
  EXPECT_TRUE(WaitForState("a", 123, tfs::ModelVersionStatus::END, 3 * kPollInterval)) << server_->log();
  tfs::PredictResponse response;
  ASSERT_TRUE(PredictOnce("b", &response).ok());

  WriteFileAtomically(config, ConfigText({{"a", a}}, policy_all));
  EXPECT_TRUE(WaitForPredictCode("b", grpc::StatusCode::NOT_FOUND, 4 * kPollInterval)) << server_->log();
  EXPECT_EQ(PredictOnce("b", &response).error_message(), "Servable not found for request: Latest(b)");
  EXPECT_TRUE(WaitForState("b", 123, tfs::ModelVersionStatus::END, 2 * kPollInterval));
  load.WaitForSuccesses(50);
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.errors();
  EXPECT_FALSE(load.FirstSeen(123).has_value());  // latest is 124 all along
}

TEST_F(HotReloadTest, SighupReloadsTheConfigFile) {
  const fs::path a = dir_ / "models" / "a";
  const fs::path b = dir_ / "models" / "b";
  AddVersion(a, 123);
  CopyTree(half_plus_three_, b);
  const fs::path config = dir_ / "models.config";
  WriteFileAtomically(config, ConfigText({{"a", a}}));
  Start({"--model_config_file=" + config.string()});  // no config polling: only SIGHUP re-reads it
  tfs::PredictResponse response;
  EXPECT_EQ(PredictOnce("b", &response).error_code(), grpc::StatusCode::NOT_FOUND);

  WriteFileAtomically(config, ConfigText({{"a", a}, {"b", b}}));
  server_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForState("b", 123, tfs::ModelVersionStatus::AVAILABLE, absl::Seconds(5))) << server_->log();
  ASSERT_TRUE(PredictOnce("b", &response).ok());
  EXPECT_THAT(Floats(response.outputs().at("y")), ::testing::ElementsAre(3.5f, 4.0f, 5.5f));
  EXPECT_TRUE(server_->running());
}

TEST_F(HotReloadTest, HandleReloadConfigRequestAppliesTheConfig) {
  const fs::path a = dir_ / "models" / "a";
  const fs::path b = dir_ / "models" / "b";
  AddVersion(a, 123);
  AddVersion(a, 124);
  CopyTree(half_plus_three_, b);
  Start({"--model_name=a", "--model_base_path=" + a.string()});
  auto stub = tfs::ModelService::NewStub(server_->channel());

  tfs::ReloadConfigRequest request;
  auto* list = request.mutable_config()->mutable_model_config_list();
  auto* ma = list->add_config();
  ma->set_name("a");
  ma->set_base_path(a.string());
  ma->set_model_platform("tensorflow");
  ma->mutable_model_version_policy()->mutable_all();
  (*ma->mutable_version_labels())["stable"] = 123;
  auto* mb = list->add_config();
  mb->set_name("b");
  mb->set_base_path(b.string());
  mb->set_model_platform("tensorflow");
  tfs::ReloadConfigResponse response;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->HandleReloadConfigRequest(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.status().error_code(), tensorflow::error::OK);
  }
  // The reload returns once the new models loaded: they serve right away.
  tfs::PredictResponse predict;
  ASSERT_TRUE(PredictOnce("b", &predict).ok());
  auto predict_stub = tfs::PredictionService::NewStub(server_->channel());
  {
    grpc::ClientContext context;
    tfs::PredictRequest labelled;
    labelled.mutable_model_spec()->set_name("a");
    labelled.mutable_model_spec()->set_version_label("stable");
    (*labelled.mutable_inputs())["x"] = FloatColumn({1});
    ASSERT_TRUE(predict_stub->Predict(&context, labelled, &predict).ok());
    EXPECT_EQ(predict.model_spec().version().value(), 123);
  }

  // A label on a version that is not available is refused with TensorFlow Serving's words.
  (*ma->mutable_version_labels())["next"] = 999;
  grpc::ClientContext context;
  grpc::Status s = stub->HandleReloadConfigRequest(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "Request to assign label to version 999 of model a, which is not currently available for inference");
}

TEST_F(HotReloadTest, BrokenVersionNeverDisturbsTheGoodOne) {
  const fs::path base = dir_ / "models" / "hp2";
  AddVersion(base, 123);
  Start({"--model_name=hp2", "--model_base_path=" + base.string(), "--max_num_load_retries=1",
         "--load_retry_interval_micros=100000"});
  LoadGenerator load(server_->channel(), "hp2");
  load.WaitForSuccesses(50);

  AddBrokenVersion(base, 124);
  ASSERT_TRUE(WaitForState("hp2", 124, tfs::ModelVersionStatus::END, 4 * kPollInterval)) << server_->log();
  load.WaitForSuccesses(50);
  load.Stop();

  auto broken = VersionStatus("hp2", 124);
  EXPECT_NE(broken->status().error_code(), tensorflow::error::OK);
  EXPECT_FALSE(broken->status().error_message().empty());
  EXPECT_EQ(VersionStatus("hp2", 123)->state(), tfs::ModelVersionStatus::AVAILABLE);
  EXPECT_EQ(load.failed(), 0) << load.errors();
  EXPECT_FALSE(load.FirstSeen(124).has_value());
}

TEST_F(HotReloadTest, BrokenVersionsAtStartupAreReportedNextToTheGoodOne) {
  const fs::path base = dir_ / "models" / "hp2";
  AddVersion(base, 123);
  AddBrokenVersion(base, 124);
  // A warmup file that is not TFRecord fails its version too.
  CopyDirAtomically(two_versions_ / "00000124", base / "00000125");
  fs::create_directories(base / "00000125" / "assets.extra");
  WriteFileAtomically(base / "00000125" / "assets.extra" / "tf_serving_warmup_requests", "not a tfrecord");
  const fs::path config = dir_ / "models.config";
  WriteFileAtomically(config, ConfigText({{"a", base}}, "model_version_policy { all {} }"));
  Start({"--model_config_file=" + config.string(), "--max_num_load_retries=0"});

  EXPECT_EQ(VersionStatus("a", 123)->state(), tfs::ModelVersionStatus::AVAILABLE);
  auto broken = VersionStatus("a", 124);
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(broken->state(), tfs::ModelVersionStatus::END);
  EXPECT_NE(broken->status().error_code(), tensorflow::error::OK);
  auto bad_warmup = VersionStatus("a", 125);
  ASSERT_TRUE(bad_warmup.has_value());
  EXPECT_EQ(bad_warmup->state(), tfs::ModelVersionStatus::END);
  EXPECT_EQ(bad_warmup->status().error_code(), tensorflow::error::DATA_LOSS);
  EXPECT_THAT(bad_warmup->status().error_message(), HasSubstr("Please verify your warmup data is in TFRecord format"));
  tfs::PredictResponse response;
  ASSERT_TRUE(PredictOnce("a", &response).ok());
  EXPECT_EQ(response.model_spec().version().value(), 123);
}

TEST_F(HotReloadTest, ModelWithNoLoadableVersionFailsStartup) {
  const fs::path base = dir_ / "models" / "hp2";
  AddBrokenVersion(base, 124);
  auto server = ServerProcess::Spawn({"--model_name=hp2", "--model_base_path=" + base.string(), "--max_num_load_retries=0"},
                                     dir_);
  ASSERT_TRUE(server.ok());
  auto code = (*server)->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << (*server)->log();
  EXPECT_EQ(*code, 1);
}

// Every request the server started finishes: none fails with an error of its own (NOT_FOUND would
// mean versions were unloaded before the front end drained). Calls that reach the process after
// shutdown began are refused by gRPC itself: UNAVAILABLE, or CANCELLED for a call that arrived on
// an open connection but had not started yet (gRPC cancels unstarted calls when a server shuts down).
TEST_F(HotReloadTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig);
    const fs::path base = dir_ / absl::StrCat("models", sig) / "hp2";
    AddVersion(base, 123);
    Start({"--model_name=hp2", "--model_base_path=" + base.string()});
    LoadGenerator load(server_->channel(), "hp2", 4);
    load.WaitForSuccesses(50);
    server_->Signal(sig);
    auto code = server_->WaitForExit(absl::Seconds(20));
    load.Stop();
    ASSERT_TRUE(code.ok()) << server_->log();
    EXPECT_EQ(*code, 0) << server_->log();
    for (grpc::StatusCode c : load.error_codes()) {
      EXPECT_TRUE(c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::CANCELLED)
          << "code " << c << "\n" << load.errors() << "\nserver log:\n" << server_->log();
    }
    EXPECT_GE(load.ok(), 50);
  }
}

TEST(ServeFlagsTest, HelpListsTheFlagsAndBadFlagsAreUsageErrors) {
  auto help = RunProcess({SAVANT_BINARY, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--model_config_file_poll_wait_seconds"));
  EXPECT_THAT(help.out, HasSubstr("--port_file"));
  auto bad = RunProcess({SAVANT_BINARY, "--no_such_flag=1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("unknown flag \"--no_such_flag\""));
  auto none = RunProcess({SAVANT_BINARY, "--port=0"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("Both server_options.model_base_path and server_options.model_config_file are empty!"));
}

}  // namespace
}  // namespace savant::testing
