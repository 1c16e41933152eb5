#include "loader/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define SAVANT_CRC32C_X86 1
#else
#define SAVANT_CRC32C_X86 0
#endif

namespace savant::loader::crc32c {
namespace {

// Castagnoli polynomial 0x1EDC6F41, bit-reversed: the CRC is computed least significant bit first,
// so in a 32-bit register bit 31 holds the coefficient of x^0 and bit 0 that of x^31.
constexpr uint32_t kPolynomial = 0x82f63b78u;

// a * b mod P, both in the bit-reversed representation above.
constexpr uint32_t MultiplyMod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int degree = 0; degree < 32; ++degree) {
    if (a & (0x80000000u >> degree)) product ^= b;
    b = (b >> 1) ^ ((b & 1) ? kPolynomial : 0);  // b *= x
  }
  return product;
}

// x^n mod P, bit-reversed, by square-and-multiply.
constexpr uint32_t XPowMod(uint64_t n) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t square = 0x40000000u;  // x^(2^k), starting at x^1
  for (; n != 0; n >>= 1) {
    if (n & 1) result = MultiplyMod(result, square);
    square = MultiplyMod(square, square);
  }
  return result;
}

static_assert(XPowMod(32) == kPolynomial, "x^32 mod P is P's low terms");

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

// The register after appending kStripe zero bytes (a multiplication by x^(8 * kStripe) mod P), as
// four byte-indexed tables: the map is linear, so Shift(r) = XOR of the images of r's bytes.
// Streams 2 and 3 start from a zero register, and CRC(A || B) = Shift_|B|(CRC(A)) ^ CRC_0(B).
struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> t;

  ShiftTables() {
    const uint32_t shift = XPowMod(8 * kStripe);
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = MultiplyMod(b << (8 * k), shift);
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

__attribute__((target("sse4.2"))) uint32_t Sse42Tail(uint32_t reg, const uint8_t* p, size_t size) {
  uint64_t r = reg;
  for (; size >= 8; size -= 8, p += 8) r = _mm_crc32_u64(r, Load64(p));
  reg = static_cast<uint32_t>(r);
  for (; size > 0; --size) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

__attribute__((target("sse4.2"))) uint32_t Sse42Register(uint32_t reg, const uint8_t* p,
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
  return Sse42Tail(reg, p, size);
}

// Folding with carry-less multiplication (the technique of Intel's "Fast CRC Computation for
// Generic Polynomials Using PCLMULQDQ", as in Linux's crc32c-pcl-intel and zlib-ng's crc32_fold).
// A 128-bit lane of input, read little-endian, holds 128 polynomial coefficients, bit k being that
// of x^(127-k) relative to the lane's end: its low half L weighs x^64 more than its high half H.
// Moving the lane D bits further down the message multiplies it by x^D, and modulo P
//   L * x^(64+D) + H * x^D  ==  L * K1 + H * K2,  K1 = x^(64+D) mod P, K2 = x^D mod P,
// two products of at most 64 x 32 bits that fit in 128 bits. CLMUL of two bit-reversed 64-bit
// operands yields their product times x (the reversed product lands one bit low), so the stored
// constants are x^(63+D) and x^(D-1), each a reversed 32-bit residue in the high half of a qword.
// Folding keeps the message congruent modulo P, so the CRC of the folded state equals that of the
// bytes it replaced; the state's last 64 bytes then go through the crc32 instruction.
constexpr uint64_t FoldConstant(uint64_t exponent) {
  return static_cast<uint64_t>(XPowMod(exponent)) << 32;
}

constexpr size_t kFoldBlock = 256;  // four 512-bit accumulators

// {low: x^(D+63), high: x^(D-1)} in every 128-bit lane, for a fold distance of D bits.
template <uint64_t kDistanceBits>
__attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2"))) inline __m512i
FoldConstants() {
  constexpr auto kLow = static_cast<long long>(FoldConstant(kDistanceBits + 63));
  constexpr auto kHigh = static_cast<long long>(FoldConstant(kDistanceBits - 1));
  return _mm512_set_epi64(kHigh, kLow, kHigh, kLow, kHigh, kLow, kHigh, kLow);
}

__attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2"))) inline __m512i
Fold(__m512i acc, __m512i constants, __m512i next) {
  const __m512i lo = _mm512_clmulepi64_epi128(acc, constants, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(acc, constants, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}

__attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2"))) uint32_t
Avx512ClmulRegister(uint32_t reg, const uint8_t* p, size_t size) {
  if (size >= kFoldBlock) {
    const __m512i by_block = FoldConstants<8 * kFoldBlock>();
    const __m512i by_64_bytes = FoldConstants<8 * 64>();
    // A register value r is equivalent to XOR-ing r into the first four message bytes.
    __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p),
                                  _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(reg))));
    __m512i x1 = _mm512_loadu_si512(p + 64);
    __m512i x2 = _mm512_loadu_si512(p + 128);
    __m512i x3 = _mm512_loadu_si512(p + 192);
    p += kFoldBlock;
    size -= kFoldBlock;
    while (size >= kFoldBlock) {
      x0 = Fold(x0, by_block, _mm512_loadu_si512(p));
      x1 = Fold(x1, by_block, _mm512_loadu_si512(p + 64));
      x2 = Fold(x2, by_block, _mm512_loadu_si512(p + 128));
      x3 = Fold(x3, by_block, _mm512_loadu_si512(p + 192));
      p += kFoldBlock;
      size -= kFoldBlock;
    }
    x1 = Fold(x0, by_64_bytes, x1);
    x2 = Fold(x1, by_64_bytes, x2);
    x3 = Fold(x2, by_64_bytes, x3);
    alignas(64) uint64_t state[8];
    _mm512_store_si512(state, x3);
    uint64_t r = 0;
    for (uint64_t word : state) r = _mm_crc32_u64(r, word);
    reg = static_cast<uint32_t>(r);
  }
  return Sse42Tail(reg, p, size);
}

#endif  // SAVANT_CRC32C_X86

bool Detect(Implementation implementation) {
  switch (implementation) {
    case Implementation::kPortable:
      return true;
#if SAVANT_CRC32C_X86
    case Implementation::kSse42:
      return __builtin_cpu_supports("sse4.2");
    case Implementation::kAvx512Clmul:
      return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
#endif
    default:
      return false;
  }
}

Implementation DetectBest() {
  if (Detect(Implementation::kAvx512Clmul)) return Implementation::kAvx512Clmul;
  if (Detect(Implementation::kSse42)) return Implementation::kSse42;
  return Implementation::kPortable;
}

uint32_t RunRegister(Implementation implementation, uint32_t reg, const uint8_t* p, size_t size) {
  switch (implementation) {
#if SAVANT_CRC32C_X86
    case Implementation::kAvx512Clmul:
      return Avx512ClmulRegister(reg, p, size);
    case Implementation::kSse42:
      return Sse42Register(reg, p, size);
#endif
    default:
      return PortableRegister(reg, p, size);
  }
}

}  // namespace

bool IsSupported(Implementation implementation) {
  static const std::array<bool, 3> supported = {Detect(Implementation::kPortable),
                                                Detect(Implementation::kSse42),
                                                Detect(Implementation::kAvx512Clmul)};
  return supported[static_cast<int>(implementation)];
}

Implementation Best() {
  static const Implementation best = DetectBest();
  return best;
}

const char* Name(Implementation implementation) {
  switch (implementation) {
    case Implementation::kPortable:
      return "portable slicing-by-8";
    case Implementation::kSse42:
      return "SSE4.2 crc32, 3 streams";
    case Implementation::kAvx512Clmul:
      return "AVX-512 VPCLMULQDQ folding";
  }
  return "?";
}

bool IsHardwareAccelerated() { return Best() != Implementation::kPortable; }

uint32_t ExtendWith(Implementation implementation, uint32_t crc, const void* data, size_t size) {
  return ~RunRegister(implementation, ~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t ExtendPortable(uint32_t crc, const void* data, size_t size) {
  return ~PortableRegister(~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t Extend(uint32_t crc, const void* data, size_t size) {
  return ~RunRegister(Best(), ~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b) {
  // With registers R = ~CRC: R(A+B) = R(A) * x^(8|B|) ^ R_0(B), and R_0(B) = R(B) ^ ~0 * x^(8|B|);
  // the two ~0 terms cancel against the final inversion, leaving CRC(A) * x^(8|B|) ^ CRC(B).
  return MultiplyMod(crc_a, XPowMod(8 * size_b)) ^ crc_b;
}

}  // namespace savant::loader::crc32c
