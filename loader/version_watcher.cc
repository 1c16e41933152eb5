#include "loader/version_watcher.h"

#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"

namespace savant::loader {
namespace fs = std::filesystem;

namespace {

// Parses a version directory name. Only digits are accepted, so "-1", "+3" and "1e3" are not
// versions (TensorFlow Serving's source ignores names that do not parse as a number, and negative
// numbers are not valid versions).
bool ParseVersion(const std::string& name, int64_t* version) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(absl::string_view(name), version);
}

absl::Status FromErrorCode(const std::error_code& ec, const fs::path& path) {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (ec == std::errc::no_such_file_or_directory) code = absl::StatusCode::kNotFound;
  if (ec == std::errc::permission_denied) code = absl::StatusCode::kPermissionDenied;
  return absl::Status(code, absl::StrCat("cannot list \"", path.string(), "\": ", ec.message()));
}

}  // namespace

absl::StatusOr<VersionPaths> ListVersions(const fs::path& base_path) {
  std::error_code ec;
  if (!fs::is_directory(base_path, ec)) {
    return absl::NotFoundError(absl::StrCat("could not find base path \"", base_path.string(), "\""));
  }
  VersionPaths versions;
  std::map<int64_t, std::string> names;
  fs::directory_iterator it(base_path, ec);
  if (ec) return FromErrorCode(ec, base_path);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return FromErrorCode(ec, base_path);
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    std::string name = it->path().filename().string();
    int64_t version = 0;
    if (!ParseVersion(name, &version)) continue;
    auto [pos, inserted] = names.emplace(version, name);
    if (!inserted && name >= pos->second) continue;
    pos->second = name;
    versions[version] = it->path();
  }
  if (ec) return FromErrorCode(ec, base_path);
  return versions;
}

VersionPaths SelectVersions(const VersionPolicy& policy, const VersionPaths& available) {
  VersionPaths selected;
  switch (policy.policy_choice_case()) {
    case VersionPolicy::kAll:
      return available;
    case VersionPolicy::kSpecific:
      for (int64_t v : policy.specific().versions()) {
        auto it = available.find(v);
        if (it != available.end()) selected.insert(*it);
      }
      return selected;
    case VersionPolicy::kLatest:
    case VersionPolicy::POLICY_CHOICE_NOT_SET: {
      uint32_t n = policy.has_latest() ? policy.latest().num_versions() : 1;
      if (n == 0) n = 1;
      for (auto it = available.rbegin(); it != available.rend() && selected.size() < n; ++it) {
        selected.insert(*it);
      }
      return selected;
    }
  }
  return selected;
}

std::string VersionPolicyDebugString(const VersionPolicy& policy) {
  switch (policy.policy_choice_case()) {
    case VersionPolicy::kAll:
      return "all";
    case VersionPolicy::kSpecific:
      return absl::StrCat("specific{", absl::StrJoin(policy.specific().versions(), ","), "}");
    case VersionPolicy::kLatest:
      return absl::StrCat("latest{", policy.latest().num_versions() == 0 ? 1 : policy.latest().num_versions(),
                          "}");
    case VersionPolicy::POLICY_CHOICE_NOT_SET:
      break;
  }
  return "latest{1}";
}

VersionWatcher::VersionWatcher(std::string model_name, fs::path base_path, VersionPolicy policy)
    : model_name_(std::move(model_name)), base_path_(std::move(base_path)), policy_(std::move(policy)) {}

absl::StatusOr<VersionPaths> VersionWatcher::Scan() const {
  auto available = ListVersions(base_path_);
  if (!available.ok()) {
    return Annotate(available.status(), absl::StrCat("model \"", model_name_, "\""));
  }
  return SelectVersions(policy_, *available);
}

}  // namespace savant::loader
