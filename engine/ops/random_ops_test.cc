#include "engine/ops/philox.h"

#include "gtest/gtest.h"

namespace savant::engine {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(PhiloxTest, Random123KnownAnswers) {
  Philox zero({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(zero.Next(), (Philox::Words{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  Philox ones({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(ones.Next(), (Philox::Words{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  Philox pi({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(pi.Next(), (Philox::Words{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(PhiloxTest, CounterCarriesAcrossWords) {
  Philox a({0xffffffffu, 0, 0, 0}, {1, 2});
  a.Skip(1);
  Philox b({0, 1, 0, 0}, {1, 2});
  EXPECT_EQ(a.Next(), b.Next());
}

TEST(PhiloxTest, Uint32ToFloatUsesTheMantissa) {
  EXPECT_EQ(Uint32ToFloat(0), 0.0f);
  EXPECT_EQ(Uint32ToFloat(0x00400000u), 0.5f);
  EXPECT_LT(Uint32ToFloat(0xffffffffu), 1.0f);
}

}  // namespace
}  // namespace savant::engine
