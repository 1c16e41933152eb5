// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11), the counter
// based generator TensorFlow's random ops use, with TensorFlow's seeding and float conversions.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

namespace savant::engine {

class Philox {
 public:
  using Words = std::array<uint32_t, 4>;
  Philox() = default;
  // TensorFlow's PhiloxRandom(seed_lo, seed_hi): the key is seed_lo, the counter's high half seed_hi.
  Philox(uint64_t seed_lo, uint64_t seed_hi) {
    key_ = {static_cast<uint32_t>(seed_lo), static_cast<uint32_t>(seed_lo >> 32)};
    counter_ = {0, 0, static_cast<uint32_t>(seed_hi), static_cast<uint32_t>(seed_hi >> 32)};
  }
  Philox(Words counter, std::array<uint32_t, 2> key) : counter_(counter), key_(key) {}

  // The next four words; advances the 128-bit counter by one.
  Words Next() {
    Words ctr = counter_;
    std::array<uint32_t, 2> key = key_;
    for (int round = 0; round < 10; ++round) {
      ctr = Round(ctr, key);
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
    Skip(1);
    return ctr;
  }

  // Advances the counter by `count` blocks of four words.
  void Skip(uint64_t count) {
    uint32_t lo = static_cast<uint32_t>(count), hi = static_cast<uint32_t>(count >> 32);
    counter_[0] += lo;
    if (counter_[0] < lo) ++hi;
    counter_[1] += hi;
    if (counter_[1] < hi && ++counter_[2] == 0) ++counter_[3];
  }

 private:
  static Words Round(const Words& ctr, const std::array<uint32_t, 2>& key) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * ctr[0];
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * ctr[2];
    return {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
            static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
  }

  Words counter_{};
  std::array<uint32_t, 2> key_{};
};

// A float in [0, 1) from the 23 low mantissa bits, as TensorFlow's Uint32ToFloat.
inline float Uint32ToFloat(uint32_t x) {
  uint32_t bits = (x & 0x7fffffu) | 0x3f800000u;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f - 1.0f;
}

// Two standard normals from two words (TensorFlow's BoxMullerFloat).
inline std::pair<float, float> BoxMullerFloat(uint32_t x0, uint32_t x1) {
  constexpr float kEpsilon = 1.0e-7f;
  float u1 = Uint32ToFloat(x0);
  if (u1 < kEpsilon) u1 = kEpsilon;
  const float v1 = 2.0f * static_cast<float>(M_PI) * Uint32ToFloat(x1);
  const float u2 = std::sqrt(-2.0f * std::log(u1));
  return {std::sin(v1) * u2, std::cos(v1) * u2};
}

}  // namespace savant::engine
