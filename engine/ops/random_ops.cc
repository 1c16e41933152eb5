// Random ops that sit on serving and initialisation paths: RandomUniform, RandomStandardNormal,
// TruncatedNormal. TensorFlow draws from Philox4x32-10 keyed by the op's (seed, seed2) attrs and
// converts 32-bit words to floats exactly as below, so a seeded op gives TensorFlow's numbers on its
// first run. Each run of the op continues the stream (a stateful op), as TensorFlow's does.
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>

#include "engine/base/status_macros.h"
#include "engine/ops/ops.h"
#include "engine/ops/philox.h"

namespace savant::engine {
namespace {

// The generator of one node: Philox keyed by (seed, seed2), or by random seeds when both are 0.
// Each Compute reserves the groups it needs and advances the shared counter. Thread-safe.
class RandomKernel : public OpKernel {
 public:
  enum class Kind { kUniform, kNormal, kTruncatedNormal };
  RandomKernel(Kind kind, DataType dtype, uint64_t seed, uint64_t seed2)
      : kind_(kind), dtype_(dtype) {
    if (seed == 0 && seed2 == 0) {
      std::random_device rd;
      seed = (static_cast<uint64_t>(rd()) << 32) | rd();
      seed2 = (static_cast<uint64_t>(rd()) << 32) | rd();
    }
    generator_ = Philox(seed, seed2);
  }

  absl::Status Compute(KernelContext& ctx) const override {
    const Tensor& shape_t = ctx.input(0);
    if (shape_t.rank() != 1 ||
        (shape_t.dtype() != DataType::kInt32 && shape_t.dtype() != DataType::kInt64)) {
      return absl::InvalidArgumentError("shape must be a vector of int32 or int64");
    }
    Shape shape;
    for (int64_t i = 0; i < shape_t.num_elements(); ++i) {
      int64_t d = shape_t.dtype() == DataType::kInt32 ? shape_t.data<int32_t>()[i]
                                                       : shape_t.data<int64_t>()[i];
      if (d < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ", d));
      shape.AddDim(d);
    }
    Tensor& out = ctx.allocate_output(0, dtype_, shape);
    int64_t n = out.num_elements();
    // TensorFlow reserves 256 samples of headroom per output for rejection-sampled kinds.
    Philox gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen = generator_;
      generator_.Skip(static_cast<uint64_t>((n * (kind_ == Kind::kTruncatedNormal ? 256 : 1) + 3) / 4));
    }
    if (dtype_ == DataType::kFloat) return Fill<float>(gen, out.data<float>(), n);
    if (dtype_ == DataType::kDouble) return Fill<double>(gen, out.data<double>(), n);
    return absl::UnimplementedError(absl::StrCat("dtype ", DataTypeName(dtype_), " is not supported"));
  }

 private:
  template <typename T>
  absl::Status Fill(Philox& gen, T* out, int64_t n) const {
    int64_t i = 0;
    switch (kind_) {
      case Kind::kUniform:
        while (i < n) {
          auto words = gen.Next();
          for (int k = 0; k < 4 && i < n; ++k) out[i++] = static_cast<T>(Uint32ToFloat(words[k]));
        }
        break;
      case Kind::kNormal:
        while (i < n) {
          auto words = gen.Next();
          for (int k = 0; k < 4 && i < n; k += 2) {
            auto [a, b] = BoxMullerFloat(words[k], words[k + 1]);
            out[i++] = static_cast<T>(a);
            if (i < n) out[i++] = static_cast<T>(b);
          }
        }
        break;
      case Kind::kTruncatedNormal:
        // Values beyond two standard deviations are drawn again, as TensorFlow does.
        while (i < n) {
          auto words = gen.Next();
          for (int k = 0; k < 4 && i < n; k += 2) {
            auto [a, b] = BoxMullerFloat(words[k], words[k + 1]);
            if (std::abs(a) < 2.0f) out[i++] = static_cast<T>(a);
            if (i < n && std::abs(b) < 2.0f) out[i++] = static_cast<T>(b);
          }
        }
        break;
    }
    return absl::OkStatus();
  }

  const Kind kind_;
  const DataType dtype_;
  mutable std::mutex mu_;
  mutable Philox generator_;  // guarded by mu_
};

KernelFactory RandomFactory(RandomKernel::Kind kind) {
  return [kind](const KernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
    uint64_t seed = static_cast<uint64_t>(GetIntAttrOr(c.node(), "seed", 0));
    uint64_t seed2 = static_cast<uint64_t>(GetIntAttrOr(c.node(), "seed2", 0));
    return std::unique_ptr<OpKernel>(new RandomKernel(kind, dtype, seed, seed2));
  };
}

}  // namespace

void RegisterRandomOps(OpRegistry& registry) {
  registry.Add("RandomStandardNormal",
               {.factory = RandomFactory(RandomKernel::Kind::kNormal), .stateful = true});
  registry.Add("RandomUniform",
               {.factory = RandomFactory(RandomKernel::Kind::kUniform), .stateful = true});
  registry.Add("TruncatedNormal",
               {.factory = RandomFactory(RandomKernel::Kind::kTruncatedNormal), .stateful = true});
}

}  // namespace savant::engine
