// CRC-32C (Castagnoli), the checksum of TensorFlow's checkpoint files: table blocks in `.index`
// files and every tensor's bytes in `.data-*` files. Uses the SSE4.2 `crc32` instruction when the
// CPU has it (chosen once, at first use) and a slicing-by-8 table otherwise. Also TensorFlow's
// "masking" of stored checksums (tensorflow/core/lib/hash/crc32c.h), which keeps a CRC computed
// over data that itself contains CRCs from being trivially zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace savant::loader::crc32c {

// Returns the CRC-32C of `data` appended to a byte string whose CRC-32C was `crc`. Extend(0, ...)
// is the CRC of `data` alone, so Extend(Extend(0, a), b) == Value(a + b). Thread-safe.
uint32_t Extend(uint32_t crc, const void* data, size_t size);

inline uint32_t Value(const void* data, size_t size) { return Extend(0, data, size); }
inline uint32_t Value(std::string_view data) { return Extend(0, data.data(), data.size()); }

// The same as Extend, computed with the portable table code even when the CPU has SSE4.2; the
// tests compare both paths.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t size);

// True when Extend uses the CPU's CRC-32C instruction.
bool IsHardwareAccelerated();

inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

// The value TensorFlow stores for checksum `crc`: rotated right by 15 bits, plus a constant.
inline constexpr uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

// Inverse of Mask.
inline constexpr uint32_t Unmask(uint32_t masked) {
  const uint32_t rotated = masked - kMaskDelta;
  return (rotated >> 17) | (rotated << 15);
}

}  // namespace savant::loader::crc32c
