#include "tests/util/fixtures.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"

namespace savant::testing {
namespace fs = std::filesystem;

absl::StatusOr<fs::path> FixturesRoot() {
  if (const char* env = std::getenv("SAVANT_FIXTURES"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env)) return fs::path(env);
    return absl::NotFoundError(absl::StrCat("SAVANT_FIXTURES=", env, " is not a directory"));
  }
  std::string searched;
  for (fs::path start : {fs::path(SAVANT_SOURCE_DIR), fs::current_path()}) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      fs::path candidate = p / ".." / "shared" / "fixtures";
      if (fs::is_directory(candidate)) return fs::canonical(candidate);
      absl::StrAppend(&searched, searched.empty() ? "" : ", ", candidate.string());
      if (p == p.parent_path()) break;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("fixtures not found (set SAVANT_FIXTURES); searched ", searched));
}

absl::StatusOr<fs::path> FixturePath(const std::string& relative) {
  auto root = FixturesRoot();
  if (!root.ok()) return root.status();
  fs::path p = *root / relative;
  if (!fs::exists(p)) return absl::NotFoundError(absl::StrCat("fixture missing: ", p.string()));
  return p;
}

fs::path TestDataDir() { return fs::path(SAVANT_SOURCE_DIR) / "tests" / "testdata"; }

fs::path MakeTempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  fs::path dir = fs::temp_directory_path() /
                 absl::StrCat(prefix, "-", ::getpid(), "-", counter++, "-", rd() % 100000);
  fs::create_directories(dir);
  return dir;
}

void CopyTree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  // Fixtures are read-only; copies must be writable so tests can corrupt or remove files.
  for (auto& e : fs::recursive_directory_iterator(to)) {
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  }
  fs::permissions(to, fs::perms::owner_write, fs::perm_options::add);
}

}  // namespace savant::testing
