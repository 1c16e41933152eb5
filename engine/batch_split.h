// Batch splitting: which steps of a plan compute row i of their outputs from row i of the feeds
// alone, so that a large batch can run through a run of such steps a few rows at a time.
//
// A batch of 32 images through a convolutional stack makes every layer stream its whole input and
// output through memory (MobileNet at 96x96: up to 19 MB per layer), and with two cores both
// streams share the memory bus. Run a slice of one or a few images through all the layers instead
// and each layer's activations stay in the core's L2 cache; each core takes its own slices, with no
// synchronisation between layers. Function (function.h) uses the classification below to find
// the leading steps of a plan that may run this way and a cost rule to stop before layers whose
// weights outweigh a slice's activations (a Dense layer after Flatten), which then run on the
// whole batch.
//
// The classification is deliberately conservative: an op is "row-wise" only when TensorFlow's
// definition guarantees it for the attrs and constant inputs at hand (a reduction whose axes
// exclude 0, a Reshape to [-1, n] of rows holding n elements, a Conv2D in inference, ...). Every
// other op, every stateful op and every op reading Shape(x) ends the run of row-wise steps.
//
//   std::vector<RowClass> out = ClassifyRows(node, in_classes, in_shapes, constants, out_shapes);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/graph.h"
#include "engine/tensor.h"

namespace savant::engine {

// What a value of a plan is, as far as the batch dimension goes.
enum class RowClass : uint8_t {
  kConstant,  // does not depend on the feeds (weights, shapes, folded constants)
  kRows,      // dim 0 is the batch, and row i depends only on row i of the row-wise feeds
  kOther,     // anything else: depends on the whole batch, or unknown
};

// The classes of `node`'s outputs given its inputs' classes, static shapes and compile-time
// constant values (nullptr when not constant) and its outputs' static shapes. Outputs are kRows
// only when the op is known to be row-wise for these attrs and inputs; any kOther input, and any
// op not covered, makes every output kOther. An op with only kConstant inputs gives kOther too:
// the compiler folds such ops, so one that remains is stateful or failed to fold.
//
// A kRows value may hold several dim-0 rows per batch row: its scale. Keras's Dense on a sequence
// reshapes [batch, time, d] to [-1, d] (scale `time`) and back. `input_scales` gives each input's
// scale (empty: all 1); kRows inputs of different scales make the outputs kOther. The scale of
// the kRows outputs goes to `output_scale` when not null.
std::vector<RowClass> ClassifyRows(const Node& node, std::span<const RowClass> inputs,
                                   std::span<const PartialShape> input_shapes,
                                   std::span<const Tensor* const> constants,
                                   std::span<const PartialShape> output_shapes,
                                   std::span<const int64_t> input_scales = {},
                                   int64_t* output_scale = nullptr);

// Bytes of one row of a value whose static shape is `shape`, assuming `element_size`-byte
// elements; -1 unless the rank is known, at least 1, and dims 1.. are all known.
int64_t RowBytes(const PartialShape& shape, int64_t element_size = 4);

// The size of one core's L2 cache (sysconf), or 1 MiB when the system does not say.
int64_t L2CacheBytes();

// The share of the last-level cache one thread can count on: 4 MiB (32 MiB per 8 cores on Zen 4;
// 1.5-2 MiB of L3 per core plus a 2 MiB L2 on recent Xeons). A constant, because virtual machines
// report the host's whole L3 (sysconf says 508 MiB on the 2-core CI machine) or none.
constexpr int64_t LastLevelCacheBytesPerThread() { return int64_t{4} << 20; }

}  // namespace savant::engine
