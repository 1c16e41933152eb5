// CRC-32C (Castagnoli), the checksum of TensorFlow's checkpoint files: table blocks in `.index`
// files and every tensor's bytes in `.data-*` files. Three implementations, the fastest the CPU
// supports chosen once, at first use:
//   - AVX-512 + VPCLMULQDQ: the input is folded 256 bytes at a time with carry-less multiplies
//     (four 512-bit accumulators, each 128-bit lane multiplied forward by x^2048 mod P), and the
//     last 64 bytes of state go through the crc32 instruction;
//   - SSE4.2: the crc32 instruction on three interleaved streams, joined with a shift table;
//   - portable: slicing-by-8 tables.
// Also TensorFlow's "masking" of stored checksums (tensorflow/core/lib/hash/crc32c.h), which keeps
// a CRC computed over data that itself contains CRCs from being trivially zero.
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

// The CRC-32C of A + B from crc_a = Value(A), crc_b = Value(B) and size_b = |B|, without reading
// either: lets pieces of one buffer be checksummed on different threads. O(log size_b).
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b);

enum class Implementation { kPortable, kSse42, kAvx512Clmul };

// True when this CPU can run `implementation` (kPortable always).
bool IsSupported(Implementation implementation);
// The implementation Extend uses.
Implementation Best();
// "portable slicing-by-8", "SSE4.2 crc32, 3 streams", "AVX-512 VPCLMULQDQ folding".
const char* Name(Implementation implementation);

// Extend computed with `implementation`, which must be supported; the tests compare them.
uint32_t ExtendWith(Implementation implementation, uint32_t crc, const void* data, size_t size);

// The same as Extend, computed with the portable table code.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t size);

// True when Extend uses a CPU instruction rather than tables.
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
