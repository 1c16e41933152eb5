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

// The hardware path interleaves three streams for inputs of at least 12 KiB; sweep the lengths
// around every boundary it has and misaligned starts, against the portable tables.
TEST(Crc32cTest, HardwareAndPortablePathsAgree) {
  if (!IsHardwareAccelerated()) GTEST_SKIP() << "this CPU has no SSE4.2 crc32 instruction";
  std::mt19937 rng(11);
  std::vector<uint8_t> data(3 * 3 * 4096 + 100);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  const size_t stripe3 = 3 * 4096;
  for (size_t length : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{63},
                        stripe3 - 1, stripe3, stripe3 + 1, stripe3 + 8, 2 * stripe3 - 1,
                        2 * stripe3, 2 * stripe3 + 13, size_t{3 * stripe3}}) {
    for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
      SCOPED_TRACE(::testing::Message() << "length " << length << " offset " << offset);
      ASSERT_LE(offset + length, data.size());
      EXPECT_EQ(Extend(0, data.data() + offset, length),
                ExtendPortable(0, data.data() + offset, length));
      EXPECT_EQ(Extend(0xdeadbeefu, data.data() + offset, length),
                ExtendPortable(0xdeadbeefu, data.data() + offset, length));
    }
  }
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
