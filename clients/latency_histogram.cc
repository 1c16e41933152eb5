#include "clients/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace savant::clients {
namespace {

constexpr int kExactBits = 8;                       // values < 256 get a bucket each
constexpr int kExact = 1 << kExactBits;             // 256
constexpr int kSubBuckets = kExact / 2;             // 128 buckets per power of two above that
constexpr int kBuckets = kExact + (64 - kExactBits) * kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

int LatencyHistogram::BucketOf(uint64_t v) {
  if (v < kExact) return static_cast<int>(v);
  const int msb = 63 - __builtin_clzll(v);
  const int shift = msb - (kExactBits - 1);          // keeps the top 8 bits: [128, 256)
  const int top = static_cast<int>(v >> shift);
  return kExact + (shift - 1) * kSubBuckets + (top - kSubBuckets);
}

uint64_t LatencyHistogram::HighestValueIn(int bucket) {
  if (bucket < kExact) return bucket;
  const int shift = (bucket - kExact) / kSubBuckets + 1;
  const uint64_t top = (bucket - kExact) % kSubBuckets + kSubBuckets;
  return (top << shift) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t nanos) {
  const uint64_t v = nanos < 0 ? 0 : static_cast<uint64_t>(nanos);
  counts_[BucketOf(v)]++;
  if (count_ == 0 || static_cast<int64_t>(v) < min_) min_ = static_cast<int64_t>(v);
  max_ = std::max(max_, static_cast<int64_t>(v));
  sum_ += v;
  count_++;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

int64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the sample the percentile names (1-based), at least the first sample.
  const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(percentile / 100.0 * count_ - 1e-9)));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min<int64_t>(static_cast<int64_t>(HighestValueIn(i)), max_);
  }
  return max_;
}

}  // namespace savant::clients
