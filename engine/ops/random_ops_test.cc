#include "engine/ops/philox.h"

#include <cmath>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::MakeTensor;
using testing::OpTest;

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

// TensorFlow's PhiloxRandomOp reserves 256 128-bit samples per output element on every call
// (ReserveRandomOutputs(n, 256)), so the second call of a stateful random op starts 256 n samples
// in. The first call's values are checked against tests/golden/ops/Random*.json.
TEST(RandomOpsTest, EachCallAdvancesTheStreamBy256SamplesPerElement) {
  OpTest t("RandomUniform");
  t.IntAttr("seed", 1).IntAttr("seed2", 2).TypeAttr("dtype", DataType::kFloat)
      .TypeAttr("T", DataType::kInt32).Input(MakeTensor<int32_t>({1}, {5}));
  auto first = t.Run();
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = t.Run();
  ASSERT_TRUE(second.ok()) << second.status();
  Philox gen(1, 2);
  gen.Skip(5 * 256);
  const auto a = gen.Next(), b = gen.Next();
  const uint32_t words[5] = {a[0], a[1], a[2], a[3], b[0]};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*second)[0].data<float>()[i], Uint32ToFloat(words[i])) << i;
  }
}

// TruncatedNormal draws each group of 4 outputs from its own stream position (256 samples per
// group), so a rejection in one group never shifts the next.
TEST(RandomOpsTest, TruncatedNormalGroupsStartAtTheirOwnOffsets) {
  OpTest t("TruncatedNormal");
  t.IntAttr("seed", 7).IntAttr("seed2", 9).TypeAttr("dtype", DataType::kFloat)
      .TypeAttr("T", DataType::kInt32).Input(MakeTensor<int32_t>({1}, {8}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  for (int group = 0; group < 2; ++group) {
    Philox gen(7, 9);
    gen.Skip(static_cast<uint64_t>(group) * 256);
    std::vector<float> want;
    while (want.size() < 4) {
      const auto w = gen.Next();
      for (int k = 0; k < 4 && want.size() < 4; k += 2) {
        auto [x, y] = BoxMullerFloat(w[k], w[k + 1]);
        if (std::abs(x) < 2.0f) want.push_back(x);
        if (want.size() < 4 && std::abs(y) < 2.0f) want.push_back(y);
      }
    }
    for (int i = 0; i < 4; ++i) {
      const float got = (*out)[0].data<float>()[group * 4 + i];
      EXPECT_EQ(got, want[i]) << "group " << group << " element " << i;
      EXPECT_LT(std::abs(got), 2.0f);
    }
  }
}

}  // namespace
}  // namespace savant::engine
