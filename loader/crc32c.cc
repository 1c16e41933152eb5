#include "loader/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#include <xmmintrin.h>
#define SAVANT_CRC32C_X86 1
#else
#define SAVANT_CRC32C_X86 0
#endif

namespace savant::loader::crc32c {
namespace {

// Castagnoli polynomial 0x1EDC6F41, bit-reversed: the CRC is computed least significant bit first.
constexpr uint32_t kPolynomial = 0x82f63b78u;

// Slicing-by-8 tables: kTables[0][b] advances the register over one byte b; kTables[k][b] is the
// contribution of a byte that still has k more bytes to pass through.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    t[0][b] = crc;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

// Advances the raw CRC register (no pre/post inversion) over `size` bytes.
uint32_t PortableRegister(uint32_t reg, const uint8_t* p, size_t size) {
  if constexpr (std::endian::native == std::endian::little) {
    while (size >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      v ^= reg;
      reg = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
            kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^
            kTables[2][(v >> 40) & 0xff] ^ kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
      p += 8;
      size -= 8;
    }
  }
  for (; size > 0; --size) reg = (reg >> 8) ^ kTables[0][(reg ^ *p++) & 0xff];
  return reg;
}

#if SAVANT_CRC32C_X86

// Inputs of at least 3 * kStripe bytes are processed as three interleaved streams, which hides the
// 3-cycle latency of the crc32 instruction (one stream alone reaches a third of its throughput).
constexpr size_t kStripe = 4096;

// The register after appending kStripe zero bytes, as four byte-indexed tables: CRC is linear, so
// Shift(r) = XOR of the images of r's bytes. Streams 2 and 3 start from a zero register, and
// CRC(A || B) = Shift_|B|(CRC(A)) ^ CRC_from_zero(B).
struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> t;

  ShiftTables() {
    static const std::array<uint8_t, kStripe> zeros{};
    std::array<uint32_t, 32> basis;
    for (int bit = 0; bit < 32; ++bit) {
      basis[bit] = PortableRegister(uint32_t{1} << bit, zeros.data(), zeros.size());
    }
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t image = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (b & (1u << bit)) image ^= basis[8 * k + bit];
        }
        t[k][b] = image;
      }
    }
  }

  uint32_t Shift(uint32_t reg) const {
    return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^ t[3][reg >> 24];
  }
};

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

__attribute__((target("sse4.2"))) uint32_t HardwareRegister(uint32_t reg, const uint8_t* p,
                                                            size_t size) {
  if (size >= 3 * kStripe) {
    static const ShiftTables shift;
    uint64_t r0 = reg;
    while (size >= 3 * kStripe) {
      uint64_t r1 = 0;
      uint64_t r2 = 0;
      const uint8_t* p1 = p + kStripe;
      const uint8_t* p2 = p + 2 * kStripe;
      for (size_t i = 0; i < kStripe; i += 8) {
        // Hardware prefetchers stop at page boundaries; fetch the next three pages ahead.
        if ((i & 63) == 0 && size >= 6 * kStripe) {
          _mm_prefetch(reinterpret_cast<const char*>(p + 3 * kStripe + i), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + 4 * kStripe + i), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + 5 * kStripe + i), _MM_HINT_T0);
        }
        r0 = _mm_crc32_u64(r0, Load64(p + i));
        r1 = _mm_crc32_u64(r1, Load64(p1 + i));
        r2 = _mm_crc32_u64(r2, Load64(p2 + i));
      }
      r0 = shift.Shift(shift.Shift(static_cast<uint32_t>(r0)) ^ static_cast<uint32_t>(r1)) ^
           static_cast<uint32_t>(r2);
      p += 3 * kStripe;
      size -= 3 * kStripe;
    }
    reg = static_cast<uint32_t>(r0);
  }
  uint64_t r = reg;
  for (; size >= 8; size -= 8, p += 8) r = _mm_crc32_u64(r, Load64(p));
  reg = static_cast<uint32_t>(r);
  for (; size > 0; --size) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

bool DetectHardware() { return __builtin_cpu_supports("sse4.2"); }

#else

bool DetectHardware() { return false; }

#endif

}  // namespace

bool IsHardwareAccelerated() {
  static const bool hardware = DetectHardware();
  return hardware;
}

uint32_t ExtendPortable(uint32_t crc, const void* data, size_t size) {
  return ~PortableRegister(~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t Extend(uint32_t crc, const void* data, size_t size) {
#if SAVANT_CRC32C_X86
  if (IsHardwareAccelerated()) {
    return ~HardwareRegister(~crc, static_cast<const uint8_t*>(data), size);
  }
#endif
  return ExtendPortable(crc, data, size);
}

}  // namespace savant::loader::crc32c
