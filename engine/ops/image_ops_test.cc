#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeTensor;
using testing::OpTest;

absl::StatusOr<Tensor> Resize(const std::string& op, const Tensor& images, int32_t h, int32_t w,
                              bool align_corners, bool half_pixel_centers) {
  OpTest t(op);
  t.TypeAttr("T", images.dtype())
      .BoolAttr("align_corners", align_corners)
      .BoolAttr("half_pixel_centers", half_pixel_centers)
      .Input(images)
      .Input(MakeTensor<int32_t>({2}, {h, w}));
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// A 1x2x2x1 image [[0, 1], [2, 3]].
Tensor Image() { return MakeTensor<float>({1, 2, 2, 1}, {0, 1, 2, 3}); }

TEST(ImageOpsTest, ResizeBilinearCoordinateModes) {
  // Legacy: src = dst * 0.5, the last row/column clamps.
  auto legacy = Resize("ResizeBilinear", Image(), 4, 4, false, false);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  ExpectTensor<float>(*legacy, {1, 4, 4, 1},
                      {0, 0.5f, 1, 1, 1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 2, 2.5f, 3, 3});
  // align_corners: scale (2-1)/(3-1), corners map to corners.
  auto aligned = Resize("ResizeBilinear", Image(), 3, 3, true, false);
  ASSERT_TRUE(aligned.ok());
  ExpectTensor<float>(*aligned, {1, 3, 3, 1}, {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  // half_pixel_centers: src = (dst + 0.5) * 0.5 - 0.5.
  auto half = Resize("ResizeBilinear", Image(), 4, 4, false, true);
  ASSERT_TRUE(half.ok());
  ExpectTensor<float>(*half, {1, 4, 4, 1},
                      {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2,
                       2.25f, 2.75f, 3});
  // Integer images give float output.
  auto ints = Resize("ResizeBilinear", MakeTensor<int32_t>({1, 1, 2, 1}, {0, 10}), 1, 3, true,
                     false);
  ASSERT_TRUE(ints.ok());
  ExpectTensor<float>(*ints, {1, 1, 3, 1}, {0, 5, 10});
}

TEST(ImageOpsTest, ResizeNearestNeighborCoordinateModes) {
  auto legacy = Resize("ResizeNearestNeighbor", Image(), 3, 3, false, false);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  // scale 2/3: floor(0, 0.67, 1.33) = 0, 0, 1.
  ExpectTensor<float>(*legacy, {1, 3, 3, 1}, {0, 0, 1, 0, 0, 1, 2, 2, 3});
  auto aligned = Resize("ResizeNearestNeighbor", Image(), 3, 3, true, false);
  ASSERT_TRUE(aligned.ok());
  // scale 1/2: round(0, 0.5, 1) = 0, 1, 1 (half away from zero).
  ExpectTensor<float>(*aligned, {1, 3, 3, 1}, {0, 1, 1, 2, 3, 3, 2, 3, 3});
  auto half = Resize("ResizeNearestNeighbor", Image(), 3, 3, false, true);
  ASSERT_TRUE(half.ok());
  // (dst + 0.5) * 2/3 = 0.33, 1, 1.67 -> 0, 1, 1.
  ExpectTensor<float>(*half, {1, 3, 3, 1}, {0, 1, 1, 2, 3, 3, 2, 3, 3});
  auto ints = Resize("ResizeNearestNeighbor", MakeTensor<uint8_t>({1, 1, 2, 2}, {1, 2, 3, 4}), 1,
                     4, false, false);
  ASSERT_TRUE(ints.ok());
  ExpectTensor<uint8_t>(*ints, {1, 1, 4, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
}

TEST(ImageOpsTest, Errors) {
  ExpectError(Resize("ResizeBilinear", Image(), 2, 2, true, true).status(),
              absl::StatusCode::kInvalidArgument,
              "If half_pixel_centers is True, align_corners must be False.");
  ExpectError(Resize("ResizeBilinear", MakeTensor<float>({2, 2}, {1, 2, 3, 4}), 2, 2, false, false)
                  .status(),
              absl::StatusCode::kInvalidArgument, "input must be 4-dimensional[2,2]");
  ExpectError(Resize("ResizeNearestNeighbor", Image(), 0, 2, false, false).status(),
              absl::StatusCode::kInvalidArgument, "output dimensions must be positive");
}

}  // namespace
}  // namespace savant::engine
