// A latency histogram in the style of HdrHistogram: log-bucketed, so it covers 1 ns to hours in a
// few thousand counters with a fixed relative precision. Values below 256 ns are exact; above that
// each power of two is split into 128 equal buckets, so a reported percentile is at most 1/128
// (0.8%) above the true sample value. savant-loadgen keeps one per worker thread and merges them.
#pragma once

#include <cstdint>
#include <vector>

namespace savant::clients {

// Thread-compatible.
class LatencyHistogram {
 public:
  LatencyHistogram();

  // Records one latency in nanoseconds (negative values count as 0).
  void Record(int64_t nanos);
  // Adds every sample of `other`.
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }

  // The smallest recorded-bucket value v such that at least `percentile`% of the samples are <= v:
  // the highest value of the bucket holding that sample, never above max(). 0 when empty;
  // percentile is clamped to [0, 100].
  int64_t ValueAtPercentile(double percentile) const;

 private:
  static int BucketOf(uint64_t v);
  static uint64_t HighestValueIn(int bucket);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  __int128 sum_ = 0;
};

}  // namespace savant::clients
