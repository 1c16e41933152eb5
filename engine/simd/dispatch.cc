#include "engine/simd/dispatch.h"

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/logging.h"
#include "engine/simd/simd.h"
#include "hwy/highway.h"
#include "hwy/targets.h"

namespace savant::engine::simd {
namespace {

struct IsaName {
  const char* name;
  int64_t targets;  // Highway target bits that make up this level
};

// Best first. AVX3_DL is Highway's AVX-512 with Ice Lake extensions; both count as "avx512".
constexpr IsaName kIsas[] = {
    {"avx512", HWY_AVX3 | HWY_AVX3_DL},
    {"avx2", HWY_AVX2},
    {"sse4", HWY_SSE4},
    {"ssse3", HWY_SSSE3},
    {"scalar", HWY_EMU128 | HWY_SCALAR},
};

// Targets compiled into this binary and supported by the CPU (ignoring any override).
int64_t Available() {
  static const int64_t available = [] {
    hwy::SetSupportedTargetsForTest(0);
    return hwy::SupportedTargets() & HWY_TARGETS;
  }();
  return available;
}

// Restricts dispatch to levels at or below `isa`; the caller checked that `isa` is available.
void Restrict(const IsaName& isa) {
  int64_t allowed = 0;
  bool below = false;
  for (const auto& level : kIsas) {
    if (&level == &isa) below = true;
    if (below) allowed |= level.targets;
  }
  // A mask with only lower targets makes Highway dispatch to the best of them.
  hwy::SetSupportedTargetsForTest(Available() & allowed);
}

const IsaName* FindIsa(absl::string_view name) {
  for (const auto& level : kIsas) {
    if (name == level.name && (Available() & level.targets) != 0) return &level;
  }
  return nullptr;
}

std::once_flag g_once;

}  // namespace

void EnsureIsaChosen() {
  std::call_once(g_once, [] {
    Available();
    const char* env = std::getenv("SAVANT_CPU");
    std::string requested = env == nullptr ? "" : absl::AsciiStrToLower(env);
    if (!requested.empty() && requested != "best") {
      if (const IsaName* isa = FindIsa(requested)) {
        Restrict(*isa);
      } else {
        SAVANT_LOG(WARNING) << "SAVANT_CPU=" << requested << " is not available; allowed: "
                            << absl::StrJoin(SupportedIsas(), ", ") << "; using "
                            << CurrentIsa();
      }
    }
    SAVANT_LOG(INFO) << "simd isa=" << CurrentIsa()
                     << (requested.empty() ? "" : " requested=" + requested);
  });
}

std::string CurrentIsa() {
  // Highway resolves the chosen target lazily; ask it the same way dispatch does.
  const int64_t best = hwy::SupportedTargets() & HWY_TARGETS;
  const int64_t chosen = best & -best;
  for (const auto& level : kIsas) {
    if (chosen & level.targets) return level.name;
  }
  return "unknown";
}

std::vector<std::string> SupportedIsas() {
  std::vector<std::string> out;
  for (const auto& level : kIsas) {
    if (Available() & level.targets) out.push_back(level.name);
  }
  return out;
}

absl::Status ForceIsa(absl::string_view isa) {
  EnsureIsaChosen();
  if (isa.empty() || isa == "best") {
    hwy::SetSupportedTargetsForTest(0);
    return absl::OkStatus();
  }
  const IsaName* level = FindIsa(isa);
  if (level == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("instruction set \"", isa,
                                                   "\" is not available; allowed: ",
                                                   absl::StrJoin(SupportedIsas(), ", ")));
  }
  Restrict(*level);
  return absl::OkStatus();
}

}  // namespace savant::engine::simd
