// Finds the versions of a model that should be served: lists the numeric version directories under
// the model's base path and applies its version policy (latest N, all, specific), as TensorFlow
// Serving's file-system storage path source does. Pure directory listing and set arithmetic: the
// model manager (server/model_manager.h) calls Scan() on every poll and decides what to load.
//
//   VersionWatcher watcher("half_plus_two", "/models/half_plus_two", policy);
//   ASSIGN_OR_RETURN(VersionPaths aspired, watcher.Scan());   // {124: "/models/half_plus_two/124"}
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "tensorflow_serving/config/file_system_storage_path_source.pb.h"

namespace savant::loader {

using VersionPolicy = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// Version number -> version directory, ascending by version.
using VersionPaths = std::map<int64_t, std::filesystem::path>;

// Lists the subdirectories of `base_path` whose names are non-negative decimal integers ("123",
// "00000123"); other entries are ignored. When two names denote the same number ("7" and "007"),
// the lexicographically smaller name wins. NOT_FOUND naming the path when `base_path` does not
// exist or is not a directory; the filesystem's code and message for other listing errors.
absl::StatusOr<VersionPaths> ListVersions(const std::filesystem::path& base_path);

// The subset of `available` that `policy` selects:
//   latest { num_versions: N }  the N highest versions (N = 1 when unset or 0); the default policy
//   all {}                      every version
//   specific { versions: ... }  the listed versions that exist
VersionPaths SelectVersions(const VersionPolicy& policy, const VersionPaths& available);

// "latest{1}", "all", "specific{123,124}", for logs and error messages.
std::string VersionPolicyDebugString(const VersionPolicy& policy);

// One model's base path and policy. Thread-compatible; immutable after construction.
class VersionWatcher {
 public:
  VersionWatcher(std::string model_name, std::filesystem::path base_path, VersionPolicy policy);

  // The versions to serve now: SelectVersions(policy, ListVersions(base_path)). Errors are
  // ListVersions's, prefixed with `model "name"`.
  absl::StatusOr<VersionPaths> Scan() const;

  const std::string& model_name() const { return model_name_; }
  const std::filesystem::path& base_path() const { return base_path_; }
  const VersionPolicy& policy() const { return policy_; }

 private:
  std::string model_name_;
  std::filesystem::path base_path_;
  VersionPolicy policy_;
};

}  // namespace savant::loader
