// Test helpers that locate the real TensorFlow Serving and published SavedModels kept in
// ../shared/fixtures (beside the repository), or wherever SAVANT_FIXTURES points.
//
//   auto dir = savant::testing::FixturePath("tfserving/saved_model_half_plus_two_cpu/00000123");
//   if (!dir) GTEST_SKIP() << dir.status().message();
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace savant::testing {

// The fixtures root: $SAVANT_FIXTURES if set, else the first of ../shared/fixtures found walking up
// from the source tree and the working directory. NOT_FOUND with the places searched otherwise.
absl::StatusOr<std::filesystem::path> FixturesRoot();

// `relative` under FixturesRoot(); NOT_FOUND naming the missing path when it does not exist.
absl::StatusOr<std::filesystem::path> FixturePath(const std::string& relative);

// The repository's own tests/testdata directory.
std::filesystem::path TestDataDir();

// A fresh empty directory under the system temp dir, removed by the caller (or left for debugging).
std::filesystem::path MakeTempDir(const std::string& prefix);

// Copies a directory tree (fixtures are read-only; tests that modify models copy them first).
void CopyTree(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace savant::testing

// Skips the current GoogleTest test when `relative` is not among the fixtures, else assigns it.
#define SAVANT_FIXTURE_OR_SKIP(var, relative)                                   \
  std::filesystem::path var;                                                   \
  do {                                                                         \
    auto savant_fixture_ = ::savant::testing::FixturePath(relative);           \
    if (!savant_fixture_.ok()) GTEST_SKIP() << savant_fixture_.status().message(); \
    var = *savant_fixture_;                                                    \
  } while (0)
