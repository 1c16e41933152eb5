#include "loader/crc32c.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace savant::loader::crc32c {
namespace {

// RFC 3720 (iSCSI), appendix B.4, and the CRC catalogue's check value for "123456789".
TEST(Crc32cTest, MatchesPublishedVectors) {
  EXPECT_EQ(Value("123456789", 9), 0xe3069283u);

  std::vector<uint8_t> buf(32, 0);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x8a9136aau);

  std::fill(buf.begin(), buf.end(), 0xff);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x62a8ab43u);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x46dd794eu);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x113fdb5cu);

  // An iSCSI SCSI Read (10) command PDU.
  const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                           0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Value(pdu, sizeof(pdu)), 0xd9963a56u);
}

TEST(Crc32cTest, EmptyInputIsZero) {
  EXPECT_EQ(Value(nullptr, 0), 0u);
  EXPECT_EQ(Extend(0x12345678u, nullptr, 0), 0x12345678u);
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  std::mt19937 rng(7);
  std::string data(50000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Value(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}, size_t{12288}, size_t{12289},
                       size_t{33333}, data.size()}) {
    SCOPED_TRACE(split);
    EXPECT_EQ(Extend(Value(data.data(), split), data.data() + split, data.size() - split), whole);
  }
}

// Every implementation this CPU supports against the portable tables, at lengths around each
// boundary the fast paths have: the 8-byte words of the crc32 instruction, the 256-byte blocks
// and 64-byte reduction of the VPCLMULQDQ fold (one block only, one block plus a tail, several),
// and the 12 KiB of the three interleaved crc32 streams; with misaligned starts and a nonzero
// starting CRC (which the fold path XORs into the first block).
TEST(Crc32cTest, EveryImplementationAgreesWithPortableTables) {
  std::mt19937 rng(11);
  std::vector<uint8_t> data(3 * 3 * 4096 + 1000);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  const size_t stripe3 = 3 * 4096;
  std::vector<size_t> lengths = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 63, 64, 65, 127, 128, 191, 192};
  for (size_t blocks : {1, 2, 3, 4, 5, 16, 47}) {
    for (int delta : {-65, -64, -8, -1, 0, 1, 8, 63, 64, 255}) {
      lengths.push_back(static_cast<size_t>(static_cast<int>(blocks * 256) + delta));
    }
  }
  for (size_t length : {stripe3 - 1, stripe3, stripe3 + 1, stripe3 + 8, 2 * stripe3 - 1,
                        2 * stripe3, 2 * stripe3 + 13, 3 * stripe3}) {
    lengths.push_back(length);
  }
  int tested = 0;
  for (Implementation impl :
       {Implementation::kPortable, Implementation::kSse42, Implementation::kAvx512Clmul}) {
    if (!IsSupported(impl)) continue;
    ++tested;
    for (size_t length : lengths) {
      for (size_t offset : {size_t{0}, size_t{1}, size_t{3}, size_t{60}}) {
        SCOPED_TRACE(::testing::Message()
                     << Name(impl) << " length " << length << " offset " << offset);
        ASSERT_LE(offset + length, data.size());
        EXPECT_EQ(ExtendWith(impl, 0, data.data() + offset, length),
                  ExtendPortable(0, data.data() + offset, length));
        EXPECT_EQ(ExtendWith(impl, 0xdeadbeefu, data.data() + offset, length),
                  ExtendPortable(0xdeadbeefu, data.data() + offset, length));
      }
    }
  }
  EXPECT_TRUE(IsSupported(Implementation::kPortable));
  EXPECT_TRUE(IsSupported(Best()));
  RecordProperty("implementations_tested", tested);
}

// The published vectors through each implementation, not only the default one. All-zero and
// all-one inputs of 32 bytes are shorter than a fold block, so also check lengths that fold: the
// CRC of n zero bytes equals the register shift of ~0 by n bytes, inverted (computed here
// independently with Combine).
TEST(Crc32cTest, EveryImplementationMatchesPublishedVectors) {
  std::vector<uint8_t> zeros(32, 0);
  std::vector<uint8_t> ones(32, 0xff);
  std::vector<uint8_t> big_zeros(100000, 0);
  for (Implementation impl :
       {Implementation::kPortable, Implementation::kSse42, Implementation::kAvx512Clmul}) {
    if (!IsSupported(impl)) continue;
    SCOPED_TRACE(Name(impl));
    EXPECT_EQ(ExtendWith(impl, 0, "123456789", 9), 0xe3069283u);
    EXPECT_EQ(ExtendWith(impl, 0, zeros.data(), zeros.size()), 0x8a9136aau);
    EXPECT_EQ(ExtendWith(impl, 0, ones.data(), ones.size()), 0x62a8ab43u);
    // Value(A + B) = Combine(Value(A), Value(B), |B|) with A = 32 zero bytes, B = the rest.
    EXPECT_EQ(ExtendWith(impl, 0, big_zeros.data(), big_zeros.size()),
              Combine(0x8a9136aau, ExtendPortable(0, big_zeros.data(), big_zeros.size() - 32),
                      big_zeros.size() - 32));
  }
}

TEST(Crc32cTest, CombineEqualsValueOfConcatenation) {
  std::mt19937 rng(5);
  std::string data(70000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Value(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{4}, size_t{255}, size_t{4096}, size_t{33333},
                       data.size() - 1, data.size()}) {
    SCOPED_TRACE(split);
    const std::string_view a(data.data(), split);
    const std::string_view b(data.data() + split, data.size() - split);
    EXPECT_EQ(Combine(Value(a), Value(b), b.size()), whole);
  }
  // Combining with an empty B changes nothing; "123456789" from "1234" and "56789".
  EXPECT_EQ(Combine(0x12345678u, 0, 0), 0x12345678u);
  EXPECT_EQ(Combine(Value("1234", 4), Value("56789", 5), 5), 0xe3069283u);
}

TEST(Crc32cTest, MaskRotatesAndAddsTensorFlowsDelta) {
  // Rotate right by 15 bits, add 0xa282ead8 (tensorflow/core/lib/hash/crc32c.h).
  EXPECT_EQ(Mask(0), 0xa282ead8u);
  EXPECT_EQ(Mask(0x00008000u), 0xa282ead9u);
  EXPECT_EQ(Mask(0x00000001u), 0xa284ead8u);
  const uint32_t crc = Value("foo", 3);
  EXPECT_NE(Mask(crc), crc);
  EXPECT_NE(Mask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
}

}  // namespace
}  // namespace savant::loader::crc32c
