#include "loader/version_watcher.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/text_format.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class VersionWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ = savant::testing::MakeTempDir("version_watcher"); }
  void TearDown() override { fs::remove_all(base_); }

  void MakeDir(const std::string& name) { fs::create_directories(base_ / name); }
  void MakeFile(const std::string& name) { std::ofstream(base_ / name) << "x"; }

  static VersionPolicy Policy(const std::string& text) {
    VersionPolicy policy;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &policy)) << text;
    return policy;
  }

  static std::vector<int64_t> Keys(const VersionPaths& v) {
    std::vector<int64_t> keys;
    for (const auto& [k, p] : v) keys.push_back(k);
    return keys;
  }

  fs::path base_;
};

TEST_F(VersionWatcherTest, ListsOnlyNumericDirectories) {
  MakeDir("123");
  MakeDir("00000124");
  MakeDir("tmp125");
  MakeDir("-3");
  MakeDir("1e3");
  MakeFile("126");
  auto versions = ListVersions(base_);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_THAT(*versions, ElementsAre(Pair(123, base_ / "123"), Pair(124, base_ / "00000124")));
}

TEST_F(VersionWatcherTest, DuplicateNumbersPickTheSmallerName) {
  MakeDir("7");
  MakeDir("007");
  auto versions = ListVersions(base_);
  ASSERT_TRUE(versions.ok());
  EXPECT_THAT(*versions, ElementsAre(Pair(7, base_ / "007")));
}

TEST_F(VersionWatcherTest, MissingBasePathIsNotFound) {
  auto versions = ListVersions(base_ / "nope");
  EXPECT_EQ(versions.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(versions.status().message(), HasSubstr((base_ / "nope").string()));

  VersionWatcher watcher("m", base_ / "nope", {});
  EXPECT_THAT(watcher.Scan().status().message(), HasSubstr("model \"m\": could not find base path"));
}

TEST_F(VersionWatcherTest, EmptyBasePathHasNoVersions) {
  VersionWatcher watcher("m", base_, {});
  auto versions = watcher.Scan();
  ASSERT_TRUE(versions.ok());
  EXPECT_TRUE(versions->empty());
}

TEST_F(VersionWatcherTest, DefaultPolicyIsLatestOne) {
  VersionPaths available = {{1, "a"}, {3, "c"}, {2, "b"}};
  EXPECT_THAT(Keys(SelectVersions(VersionPolicy(), available)), ElementsAre(3));
  EXPECT_THAT(Keys(SelectVersions(Policy("latest {}"), available)), ElementsAre(3));
  EXPECT_EQ(VersionPolicyDebugString(VersionPolicy()), "latest{1}");
}

TEST_F(VersionWatcherTest, LatestN) {
  VersionPaths available = {{1, "a"}, {3, "c"}, {2, "b"}};
  EXPECT_THAT(Keys(SelectVersions(Policy("latest { num_versions: 2 }"), available)), ElementsAre(2, 3));
  EXPECT_THAT(Keys(SelectVersions(Policy("latest { num_versions: 9 }"), available)), ElementsAre(1, 2, 3));
  EXPECT_EQ(VersionPolicyDebugString(Policy("latest { num_versions: 2 }")), "latest{2}");
}

TEST_F(VersionWatcherTest, All) {
  VersionPaths available = {{1, "a"}, {3, "c"}};
  EXPECT_THAT(Keys(SelectVersions(Policy("all {}"), available)), ElementsAre(1, 3));
  EXPECT_EQ(VersionPolicyDebugString(Policy("all {}")), "all");
}

TEST_F(VersionWatcherTest, SpecificKeepsOnlyExistingListedVersions) {
  VersionPaths available = {{1, "a"}, {3, "c"}, {4, "d"}};
  auto policy = Policy("specific { versions: 3 versions: 1 versions: 7 }");
  EXPECT_THAT(Keys(SelectVersions(policy, available)), ElementsAre(1, 3));
  EXPECT_EQ(VersionPolicyDebugString(policy), "specific{3,1,7}");
}

TEST_F(VersionWatcherTest, ScanSeesNewAndRemovedVersions) {
  MakeDir("1");
  VersionWatcher watcher("m", base_, Policy("all {}"));
  EXPECT_THAT(Keys(*watcher.Scan()), ElementsAre(1));
  MakeDir("2");
  EXPECT_THAT(Keys(*watcher.Scan()), ElementsAre(1, 2));
  fs::remove_all(base_ / "1");
  EXPECT_THAT(Keys(*watcher.Scan()), ElementsAre(2));
}

}  // namespace
}  // namespace savant::loader
