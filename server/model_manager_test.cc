// ModelManager with a fake loader over temporary base paths: the loader can fail, block or count
// loads per version, and always hands out the project's own half_plus_two model when it succeeds.
#include "server/model_manager.h"

#include <condition_variable>
#include <mutex>
#include <set>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/util/fixtures.h"

namespace savant::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tensorflow::serving::ModelConfigList;

std::shared_ptr<const loader::Model> TestModel() {
  static const auto* model = [] {
    auto loaded = loader::Model::Load(savant::testing::TestDataDir() / "half_plus_two" / "00000001");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const loader::Model>(loaded.ok() ? std::move(*loaded) : nullptr);
  }();
  return *model;
}

// Thread-safe.
class FakeLoader {
 public:
  absl::StatusOr<std::shared_ptr<const loader::Model>> Load(const std::string& name, int64_t version,
                                                            const fs::path& dir) {
    std::unique_lock lock(mu_);
    ++calls_[version];
    entered_.insert(version);
    cv_.notify_all();
    cv_.wait(lock, [&] { return !blocked_.contains(version); });
    auto fail = failures_left_.find(version);
    if (fail != failures_left_.end() && fail->second != 0) {
      if (fail->second > 0) --fail->second;
      return absl::DataLossError(absl::StrCat("variables of \"", dir.string(), "\" are truncated"));
    }
    return TestModel();
  }

  // `times` < 0: always.
  void Fail(int64_t version, int times = -1) {
    std::lock_guard lock(mu_);
    failures_left_[version] = times;
  }
  void Block(int64_t version) {
    std::lock_guard lock(mu_);
    blocked_.insert(version);
  }
  void Unblock(int64_t version) {
    std::lock_guard lock(mu_);
    blocked_.erase(version);
    cv_.notify_all();
  }
  void WaitUntilEntered(int64_t version) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_.contains(version); });
  }
  int calls(int64_t version) {
    std::lock_guard lock(mu_);
    return calls_[version];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, int> calls_;
  std::map<int64_t, int> failures_left_;
  std::set<int64_t> blocked_;
  std::set<int64_t> entered_;
};

class ModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = savant::testing::MakeTempDir("model_manager");
    base_ = root_ / "m";
    fs::create_directories(base_);
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(root_);
  }

  ModelManager& Manager(ModelManagerOptions options = {}) {
    options.load = [this](const std::string& n, int64_t v, const fs::path& d) { return loader_.Load(n, v, d); };
    options.poll_interval = absl::ZeroDuration();  // the tests poll by hand
    options.load_retry_interval = absl::ZeroDuration();
    manager_ = std::make_unique<ModelManager>(std::move(options));
    return *manager_;
  }

  ModelConfigList Config(const std::string& extra = "") {
    ModelConfigList list;
    std::string text = absl::StrCat("config { name: \"m\" base_path: \"", base_.string(),
                                    "\" model_platform: \"tensorflow\" ", extra, " }");
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &list)) << text;
    return list;
  }

  void AddVersion(int64_t v) { fs::create_directories(base_ / std::to_string(v)); }
  void RemoveVersion(int64_t v) { fs::remove_all(base_ / std::to_string(v)); }

  int64_t ServedVersion(const ModelSelector& selector = {"m", {}, {}}) {
    auto handle = manager_->Find(selector);
    EXPECT_TRUE(handle.ok()) << handle.status();
    return handle.ok() ? (*handle)->version : -1;
  }

  VersionState State(int64_t v) {
    auto status = manager_->GetModelStatus("m", v);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->at(0).state : VersionState::kStart;
  }

  fs::path root_, base_;
  FakeLoader loader_;
  std::unique_ptr<ModelManager> manager_;
};

TEST_F(ModelManagerTest, ServesTheLatestVersionByDefault) {
  AddVersion(1);
  AddVersion(2);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  EXPECT_EQ(ServedVersion(), 2);
  EXPECT_EQ(State(2), VersionState::kAvailable);
  EXPECT_EQ(loader_.calls(1), 0);
  EXPECT_EQ(manager.GetModelStatus("m", 1).status(),
            absl::NotFoundError("Could not find version 1 of model m"));
  EXPECT_TRUE(manager.AllModelsAvailable());
  EXPECT_THAT(manager.ModelNames(), ElementsAre("m"));
}

TEST_F(ModelManagerTest, NotFoundUsesTensorFlowServingsWording) {
  AddVersion(1);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  EXPECT_EQ(manager.Find({"nope", {}, {}}).status(),
            absl::NotFoundError("Servable not found for request: Latest(nope)"));
  EXPECT_EQ(manager.Find({"m", 7, {}}).status(),
            absl::NotFoundError("Servable not found for request: Specific(m, 7)"));
  EXPECT_EQ(manager.Find({"m", {}, "canary"}).status(),
            absl::InvalidArgumentError("Unrecognized servable version label: canary"));
  EXPECT_EQ(manager.GetModelStatus("nope").status(),
            absl::NotFoundError("Could not find any versions of model nope"));
}

TEST_F(ModelManagerTest, KeepsServingOldVersionWhileNewOneLoads) {
  AddVersion(1);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  loader_.Block(2);
  AddVersion(2);
  manager.Poll();
  loader_.WaitUntilEntered(2);
  EXPECT_EQ(State(2), VersionState::kLoading);
  EXPECT_EQ(ServedVersion(), 1);
  EXPECT_EQ(State(1), VersionState::kAvailable);

  auto in_flight = manager.Find({"m", 1, {}});  // a request still running on version 1
  ASSERT_TRUE(in_flight.ok());
  loader_.Unblock(2);
  // Wait for the load without waiting for the unload, which the in-flight request holds up.
  while (State(2) != VersionState::kAvailable) std::this_thread::yield();
  EXPECT_EQ(ServedVersion(), 2);
  EXPECT_EQ(State(1), VersionState::kUnloading);
  EXPECT_EQ((*in_flight)->version, 1);  // still usable
  EXPECT_EQ(manager.Find({"m", 1, {}}).status().code(), absl::StatusCode::kNotFound);
  in_flight->reset();
  manager.WaitUntilIdle();
  EXPECT_EQ(State(1), VersionState::kEnd);
  EXPECT_TRUE(manager.GetModelStatus("m", 1)->at(0).status.ok());
}

TEST_F(ModelManagerTest, KeepsServingOldVersionWhenNewOneFails) {
  AddVersion(1);
  auto& manager = Manager({.max_load_retries = 0});
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  loader_.Fail(2);
  AddVersion(2);
  manager.Poll();
  manager.WaitUntilIdle();
  EXPECT_EQ(ServedVersion(), 1);
  auto status = manager.GetModelStatus("m");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->size(), 2u);
  EXPECT_EQ(status->at(0).version, 2);  // newest first, as TensorFlow Serving lists them
  EXPECT_EQ(status->at(0).state, VersionState::kEnd);
  EXPECT_EQ(status->at(0).status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status->at(0).status.message(), HasSubstr("truncated"));
  EXPECT_EQ(status->at(1).state, VersionState::kAvailable);

  // A failed version that stays aspired is not retried by later polls.
  manager.Poll();
  manager.WaitUntilIdle();
  EXPECT_EQ(loader_.calls(2), 1);
  EXPECT_EQ(ServedVersion(), 1);
}

TEST_F(ModelManagerTest, RetriesFailedLoads) {
  AddVersion(1);
  loader_.Fail(1, /*times=*/2);
  auto& manager = Manager({.max_load_retries = 2});
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  EXPECT_EQ(loader_.calls(1), 3);
  EXPECT_EQ(State(1), VersionState::kAvailable);
}

TEST_F(ModelManagerTest, GivesUpAfterMaxRetries) {
  AddVersion(1);
  loader_.Fail(1);
  auto& manager = Manager({.max_load_retries = 3});
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  EXPECT_EQ(loader_.calls(1), 4);
  EXPECT_EQ(State(1), VersionState::kEnd);
  EXPECT_EQ(manager.Find({"m", {}, {}}).status(),
            absl::NotFoundError("Servable not found for request: Latest(m)"));
  EXPECT_FALSE(manager.AllModelsAvailable());
  absl::Status await = manager.AwaitModelsAvailable();
  EXPECT_EQ(await.code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(await.message(), HasSubstr("1 model(s) did not become available: {{Latest(m) due to error: DATA_LOSS"));
}

TEST_F(ModelManagerTest, FailedVersionLoadsAgainWhenItsDirectoryComesBack) {
  AddVersion(1);
  loader_.Fail(1, /*times=*/1);
  auto& manager = Manager({.max_load_retries = 0});
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  EXPECT_EQ(State(1), VersionState::kEnd);
  RemoveVersion(1);
  manager.Poll();
  AddVersion(1);
  manager.Poll();
  manager.WaitUntilIdle();
  EXPECT_EQ(State(1), VersionState::kAvailable);
  EXPECT_EQ(loader_.calls(1), 2);
}

TEST_F(ModelManagerTest, WarmupFailureFailsTheLoad) {
  AddVersion(1);
  auto& manager = Manager({.warmup = [](const LoadedVersion&) { return absl::InvalidArgumentError("bad record"); },
                           .max_load_retries = 0});
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  auto status = manager.GetModelStatus("m", 1);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->at(0).state, VersionState::kEnd);
  EXPECT_EQ(status->at(0).status, absl::InvalidArgumentError("warmup: bad record"));
}

TEST_F(ModelManagerTest, PolicyAllServesEveryVersionAndRemovedDirectoriesUnload) {
  AddVersion(1);
  AddVersion(2);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config("model_version_policy { all {} }")).ok());
  EXPECT_EQ(ServedVersion({"m", 1, {}}), 1);
  EXPECT_EQ(ServedVersion({"m", 2, {}}), 2);
  RemoveVersion(1);
  manager.Poll();
  manager.WaitUntilIdle();
  EXPECT_EQ(manager.Find({"m", 1, {}}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(State(1), VersionState::kEnd);
  EXPECT_EQ(ServedVersion(), 2);
}

TEST_F(ModelManagerTest, SpecificPolicyServesOnlyListedVersions) {
  AddVersion(1);
  AddVersion(2);
  AddVersion(3);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config("model_version_policy { specific { versions: 1 versions: 3 } }")).ok());
  EXPECT_EQ(ServedVersion({"m", 1, {}}), 1);
  EXPECT_EQ(ServedVersion({"m", 3, {}}), 3);
  EXPECT_EQ(manager.Find({"m", 2, {}}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(loader_.calls(2), 0);
}

TEST_F(ModelManagerTest, RemovingTheModelFromTheConfigUnloadsIt) {
  AddVersion(1);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  ASSERT_TRUE(manager.ApplyConfig(ModelConfigList()).ok());
  manager.WaitUntilIdle();
  EXPECT_EQ(manager.Find({"m", {}, {}}).status(),
            absl::NotFoundError("Servable not found for request: Latest(m)"));
  EXPECT_EQ(State(1), VersionState::kEnd);
  EXPECT_TRUE(manager.ModelNames().empty());
}

TEST_F(ModelManagerTest, LabelsResolveToVersions) {
  AddVersion(1);
  AddVersion(2);
  auto& manager = Manager();
  ASSERT_TRUE(manager
                  .ApplyConfig(Config("model_version_policy { all {} } "
                                      "version_labels { key: \"stable\" value: 1 } "
                                      "version_labels { key: \"canary\" value: 2 }"))
                  .ok());
  EXPECT_EQ(ServedVersion({"m", {}, "stable"}), 1);
  EXPECT_EQ(ServedVersion({"m", {}, "canary"}), 2);
  // Moving a label is a config change.
  ASSERT_TRUE(manager
                  .ApplyConfig(Config("model_version_policy { all {} } "
                                      "version_labels { key: \"stable\" value: 2 }"))
                  .ok());
  EXPECT_EQ(ServedVersion({"m", {}, "stable"}), 2);
  EXPECT_EQ(manager.Find({"m", {}, "canary"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelManagerTest, LabelOnUnavailableVersionIsRejectedUnlessAllowed) {
  AddVersion(1);
  auto& manager = Manager();
  absl::Status s = manager.ApplyConfig(Config("version_labels { key: \"next\" value: 3 }"));
  EXPECT_EQ(s, absl::FailedPreconditionError("Request to assign label to version 3 of model m, which is "
                                             "not currently available for inference"));
  EXPECT_EQ(ServedVersion(), 1);  // the models were still applied

  manager_.reset();
  auto& lenient = Manager({.allow_version_labels_for_unavailable_models = true});
  ASSERT_TRUE(lenient.ApplyConfig(Config("version_labels { key: \"next\" value: 3 }")).ok());
  EXPECT_EQ(lenient.Find({"m", {}, "next"}).status(),
            absl::NotFoundError("Servable not found for request: Specific(m, 3)"));
}

TEST_F(ModelManagerTest, InvalidConfigsChangeNothing) {
  auto& manager = Manager();
  ModelConfigList twice = Config();
  *twice.add_config() = twice.config(0);
  EXPECT_EQ(manager.ApplyConfig(twice),
            absl::InvalidArgumentError("Illegal to list model m multiple times in config list"));

  ModelConfigList relative = Config();
  relative.mutable_config(0)->set_base_path("models/m");
  EXPECT_EQ(manager.ApplyConfig(relative),
            absl::InvalidArgumentError("Expected model m to have an absolute path or URI; got base_path()=models/m"));

  ModelConfigList platform = Config();
  platform.mutable_config(0)->set_model_platform("pytorch");
  EXPECT_EQ(manager.ApplyConfig(platform),
            absl::InvalidArgumentError("Model m requests unsupported platform pytorch"));
  EXPECT_TRUE(manager.ModelNames().empty());
}

TEST_F(ModelManagerTest, MissingBasePathKeepsServedVersions) {
  AddVersion(1);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  fs::rename(base_, root_ / "moved");
  manager.Poll();
  manager.WaitUntilIdle();
  EXPECT_EQ(ServedVersion(), 1);
}

TEST_F(ModelManagerTest, ShutdownUnloadsEverything) {
  AddVersion(1);
  auto& manager = Manager();
  ASSERT_TRUE(manager.ApplyConfig(Config()).ok());
  manager.Shutdown();
  EXPECT_EQ(State(1), VersionState::kEnd);
  EXPECT_TRUE(manager.snapshot()->models.empty());
  EXPECT_EQ(manager.ApplyConfig(Config()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager.AwaitModelsAvailable().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ModelManagerTest, ShutdownCancelsRetries) {
  AddVersion(1);
  loader_.Fail(1);
  ModelManagerOptions options;
  options.max_load_retries = 1000;
  options.load = [this](const std::string& n, int64_t v, const fs::path& d) { return loader_.Load(n, v, d); };
  options.load_retry_interval = absl::Hours(1);
  options.poll_interval = absl::ZeroDuration();
  manager_ = std::make_unique<ModelManager>(std::move(options));
  std::thread apply([&] { EXPECT_EQ(manager_->ApplyConfig(Config()).code(), absl::StatusCode::kUnavailable); });
  loader_.WaitUntilEntered(1);
  manager_->Shutdown();
  apply.join();
  EXPECT_EQ(loader_.calls(1), 1);
}

}  // namespace
}  // namespace savant::server
