#include "clients/latency_histogram.h"

#include "gtest/gtest.h"

namespace savant::clients {
namespace {

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.ValueAtPercentile(50), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
}

// Below 256 ns every value has its own bucket: percentiles are exact ranks. With 1..100, the p-th
// percentile is the ceil(p)-th smallest value.
TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 100; v >= 1; --v) h.Record(v);
  EXPECT_EQ(h.count(), 100);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_EQ(h.ValueAtPercentile(0), 1);
  EXPECT_EQ(h.ValueAtPercentile(50), 50);
  EXPECT_EQ(h.ValueAtPercentile(90), 90);
  EXPECT_EQ(h.ValueAtPercentile(99), 99);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 100);
  EXPECT_EQ(h.ValueAtPercentile(100), 100);
}

// 1 us .. 1000 us in 1 us steps: the true p50 is 500 us, p90 900 us, p99 990 us, p99.9 999 us. A
// bucket above 256 ns spans 1/128 of its power of two, so the reported value is the true one or
// at most 0.8% above it, never below.
TEST(LatencyHistogramTest, LargeValuesWithinRelativePrecision) {
  LatencyHistogram h;
  for (int us = 1; us <= 1000; ++us) h.Record(us * 1000);
  for (auto [p, want] : {std::pair{50.0, 500000}, {90.0, 900000}, {99.0, 990000}, {99.9, 999000}}) {
    const int64_t got = h.ValueAtPercentile(p);
    EXPECT_GE(got, want) << "p" << p;
    EXPECT_LE(got, want + want / 128) << "p" << p;
  }
  EXPECT_EQ(h.ValueAtPercentile(100), 1000000);  // capped at the largest sample
  EXPECT_DOUBLE_EQ(h.mean(), 500500.0);
}

TEST(LatencyHistogramTest, MergeAddsSamples) {
  LatencyHistogram a, b;
  for (int i = 0; i < 90; ++i) a.Record(10);
  for (int i = 0; i < 10; ++i) b.Record(200);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(a.min(), 10);
  EXPECT_EQ(a.max(), 200);
  EXPECT_EQ(a.ValueAtPercentile(90), 10);
  EXPECT_EQ(a.ValueAtPercentile(91), 200);
  LatencyHistogram empty;
  a.Merge(empty);
  EXPECT_EQ(a.count(), 100);
}

// Ten seconds and an hour still land in a bucket, 0.8% wide at most; negative values count as 0.
TEST(LatencyHistogramTest, CoversHoursAndClampsNegatives) {
  LatencyHistogram h;
  const int64_t hour = 3600LL * 1000 * 1000 * 1000;
  h.Record(hour);
  EXPECT_EQ(h.ValueAtPercentile(50), hour);
  LatencyHistogram g;
  g.Record(-5);
  EXPECT_EQ(g.min(), 0);
  EXPECT_EQ(g.ValueAtPercentile(50), 0);
  LatencyHistogram k;
  k.Record(10'000'000'000);
  k.Record(1);
  EXPECT_GE(k.ValueAtPercentile(50), 1);
  EXPECT_LE(k.ValueAtPercentile(50), 1);
}

}  // namespace
}  // namespace savant::clients
