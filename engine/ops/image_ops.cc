// Image resizing: ResizeBilinear (float output) and ResizeNearestNeighbor (output in the input's
// dtype) over NHWC batches, with TensorFlow's align_corners and half_pixel_centers coordinate
// transforms, float arithmetic and rounding (image_resizer_state.h, resize_bilinear_op.cc,
// resize_nearest_neighbor_op.cc), so results match TensorFlow bit for bit on typical inputs.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {
namespace {

// TensorFlow's CalculateResizeScale, in float.
float ResizeScale(int64_t in_size, int64_t out_size, bool align_corners) {
  return (align_corners && out_size > 1)
             ? static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1)
             : static_cast<float>(in_size) / static_cast<float>(out_size);
}

struct ResizeShape {
  int64_t batch, in_height, in_width, channels, out_height, out_width;
  float height_scale, width_scale;
};

absl::StatusOr<ResizeShape> CheckResize(const KernelContext& ctx, bool align_corners) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& images = ctx.input(0);
  const Tensor& size = ctx.input(1);
  if (images.rank() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("input must be 4-dimensional", images.shape().DebugString()));
  }
  if (size.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape_t must be 1-dimensional", size.shape().DebugString()));
  }
  if (size.num_elements() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape_t must have two elements", size.shape().DebugString()));
  }
  RETURN_IF_ERROR(ExpectInputDType(ctx, 1, DataType::kInt32, "size"));
  ResizeShape s;
  s.batch = images.dim(0);
  s.in_height = images.dim(1);
  s.in_width = images.dim(2);
  s.channels = images.dim(3);
  s.out_height = size.data<int32_t>()[0];
  s.out_width = size.data<int32_t>()[1];
  if (s.out_height <= 0 || s.out_width <= 0) {
    return absl::InvalidArgumentError("output dimensions must be positive");
  }
  if (s.channels <= 0) {
    return absl::InvalidArgumentError("image must have at least one channel");
  }
  if (s.in_height <= 0 || s.in_width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("input image must be of non-zero size, got ",
                                                   images.shape().DebugString()));
  }
  s.height_scale = ResizeScale(s.in_height, s.out_height, align_corners);
  s.width_scale = ResizeScale(s.in_width, s.out_width, align_corners);
  return s;
}

struct Interpolation {
  int64_t lower;
  int64_t upper;
  float lerp;
};

// TensorFlow's compute_interpolation_weights with the legacy (x * scale) or half-pixel
// ((x + 0.5) * scale - 0.5) scaler.
std::vector<Interpolation> InterpolationWeights(int64_t out_size, int64_t in_size, float scale,
                                                bool half_pixel_centers) {
  std::vector<Interpolation> w(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const float in = half_pixel_centers
                         ? (static_cast<float>(i) + 0.5f) * scale - 0.5f
                         : static_cast<float>(i) * scale;
    const float in_f = std::floor(in);
    w[i].lower = std::max(static_cast<int64_t>(in_f), int64_t{0});
    w[i].upper = std::min(static_cast<int64_t>(std::ceil(in)), in_size - 1);
    w[i].lerp = in - in_f;
  }
  return w;
}

class ResizeBilinearKernel final : public OpKernel {
 public:
  ResizeBilinearKernel(bool align_corners, bool half_pixel_centers)
      : align_corners_(align_corners), half_pixel_centers_(half_pixel_centers) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(ResizeShape s, CheckResize(ctx, align_corners_));
    const Tensor& images = ctx.input(0);
    Tensor& out = ctx.allocate_output(0, DataType::kFloat,
                                      Shape{s.batch, s.out_height, s.out_width, s.channels});
    if (out.num_elements() == 0) return absl::OkStatus();
    const std::vector<Interpolation> ys =
        InterpolationWeights(s.out_height, s.in_height, s.height_scale, half_pixel_centers_);
    const std::vector<Interpolation> xs =
        InterpolationWeights(s.out_width, s.in_width, s.width_scale, half_pixel_centers_);
    const bool supported = VisitRealType(images.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      const S* in = images.data<S>();
      float* o = out.data<float>();
      const int64_t in_row = s.in_width * s.channels;
      const int64_t in_image = s.in_height * in_row;
      auto value = [&](int64_t at) { return static_cast<float>(Load(in[at])); };
      auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t b = r / s.out_height;
          const Interpolation& y = ys[r % s.out_height];
          const int64_t top = b * in_image + y.lower * in_row;
          const int64_t bottom = b * in_image + y.upper * in_row;
          float* dst = o + r * s.out_width * s.channels;
          for (int64_t x = 0; x < s.out_width; ++x) {
            const Interpolation& xi = xs[x];
            for (int64_t c = 0; c < s.channels; ++c) {
              const float top_left = value(top + xi.lower * s.channels + c);
              const float top_right = value(top + xi.upper * s.channels + c);
              const float bottom_left = value(bottom + xi.lower * s.channels + c);
              const float bottom_right = value(bottom + xi.upper * s.channels + c);
              const float t = top_left + (top_right - top_left) * xi.lerp;
              const float bo = bottom_left + (bottom_right - bottom_left) * xi.lerp;
              dst[x * s.channels + c] = t + (bo - t) * y.lerp;
            }
          }
        }
      };
      const int64_t total_rows = s.batch * s.out_height;
      if (out.num_elements() < kParallelElements || ctx.pool().parallelism() == 1) {
        rows(0, total_rows);
      } else {
        ctx.pool().ParallelFor(total_rows,
                               std::max<int64_t>(1, kParallelElements / (s.out_width * s.channels)),
                               rows);
      }
    });
    if (!supported) {
      return absl::InvalidArgumentError(
          absl::StrCat("ResizeBilinear does not support ", DataTypeName(images.dtype())));
    }
    return absl::OkStatus();
  }

 private:
  const bool align_corners_;
  const bool half_pixel_centers_;
};

// TensorFlow's nearest-neighbour source index: round (align_corners) or floor of the scaled
// coordinate, where the half-pixel scaler is (x + 0.5) * scale without the -0.5.
std::vector<int64_t> NearestIndices(int64_t out_size, int64_t in_size, float scale,
                                    bool align_corners, bool half_pixel_centers) {
  std::vector<int64_t> idx(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const float in = half_pixel_centers ? (static_cast<float>(i) + 0.5f) * scale
                                        : static_cast<float>(i) * scale;
    int64_t k = std::min(align_corners ? static_cast<int64_t>(std::round(in))
                                       : static_cast<int64_t>(std::floor(in)),
                         in_size - 1);
    if (half_pixel_centers) k = std::max<int64_t>(0, k);
    idx[i] = k;
  }
  return idx;
}

class ResizeNearestKernel final : public OpKernel {
 public:
  ResizeNearestKernel(bool align_corners, bool half_pixel_centers)
      : align_corners_(align_corners), half_pixel_centers_(half_pixel_centers) {}

  absl::Status Compute(KernelContext& ctx) const override {
    ASSIGN_OR_RETURN(ResizeShape s, CheckResize(ctx, align_corners_));
    const Tensor& images = ctx.input(0);
    if (!IsPodType(images.dtype())) {
      return absl::InvalidArgumentError(absl::StrCat("ResizeNearestNeighbor does not support ",
                                                     DataTypeName(images.dtype())));
    }
    Tensor& out = ctx.allocate_output(0, images.dtype(),
                                      Shape{s.batch, s.out_height, s.out_width, s.channels});
    if (out.num_elements() == 0) return absl::OkStatus();
    const std::vector<int64_t> ys = NearestIndices(s.out_height, s.in_height, s.height_scale,
                                                   align_corners_, half_pixel_centers_);
    const std::vector<int64_t> xs = NearestIndices(s.out_width, s.in_width, s.width_scale,
                                                   align_corners_, half_pixel_centers_);
    for (int64_t b = 0; b < s.batch; ++b) {
      for (int64_t y = 0; y < s.out_height; ++y) {
        for (int64_t x = 0; x < s.out_width; ++x) {
          CopyElements(images, ((b * s.in_height + ys[y]) * s.in_width + xs[x]) * s.channels, out,
                       ((b * s.out_height + y) * s.out_width + x) * s.channels, s.channels);
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  const bool align_corners_;
  const bool half_pixel_centers_;
};

template <typename K>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateResize(const KernelConstruction& c) {
  const bool align_corners = GetBoolAttrOr(c.node(), "align_corners", false);
  const bool half_pixel_centers = GetBoolAttrOr(c.node(), "half_pixel_centers", false);
  if (align_corners && half_pixel_centers) {
    return absl::InvalidArgumentError(
        "If half_pixel_centers is True, align_corners must be False.");
  }
  return std::make_unique<K>(align_corners, half_pixel_centers);
}

}  // namespace

void RegisterImageOps(OpRegistry& registry) {
  registry.Add("ResizeBilinear", {.factory = CreateResize<ResizeBilinearKernel>});
  registry.Add("ResizeNearestNeighbor", {.factory = CreateResize<ResizeNearestKernel>});
}

}  // namespace savant::engine
