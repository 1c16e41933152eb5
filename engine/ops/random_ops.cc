// Random ops that sit on serving and initialisation paths: RandomUniform, RandomStandardNormal,
// TruncatedNormal. TensorFlow draws from Philox4x32-10 keyed by the op's (seed, seed2) attrs and
// converts 32-bit words to floats exactly as below, so a seeded op gives TensorFlow's numbers. Each
// run of the op continues the stream (a stateful op) where TensorFlow's would: PhiloxRandomOp
// reserves 256 128-bit samples per output element (ReserveRandomOutputs(n, 256)), whatever the
// distribution, and TruncatedNormal starts each group of 4 outputs 256 samples after the previous
// one (FillPhiloxRandomTask's kGeneratorSkipPerOutputGroup), so rejections never shift later
// groups.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
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
    Philox gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen = generator_;
      generator_.Skip(static_cast<uint64_t>(n) * 256);
    }
    if (dtype_ == DataType::kFloat) return Fill<float>(gen, out.data<float>(), n);
    if (dtype_ == DataType::kDouble) return FillDouble(gen, out.data<double>(), n);
    return absl::UnimplementedError(absl::StrCat("dtype ", DataTypeName(dtype_), " is not supported"));
  }

 private:
  // A double in [0, 1) from 52 bits of two words (TensorFlow's Uint64ToDouble).
  static double Uint64ToDouble(uint32_t x0, uint32_t x1) {
    const uint64_t bits = (uint64_t{1023} << 52) | (static_cast<uint64_t>(x0 & 0xfffffu) << 32) | x1;
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    return d - 1.0;
  }

  // double: two outputs per 128-bit sample (UniformDistribution / NormalDistribution<double>).
  absl::Status FillDouble(Philox& gen, double* out, int64_t n) const {
    if (kind_ == Kind::kTruncatedNormal) {
      return absl::UnimplementedError("TruncatedNormal of DT_DOUBLE is not supported");
    }
    for (int64_t i = 0; i < n;) {
      const auto w = gen.Next();
      if (kind_ == Kind::kUniform) {
        out[i++] = Uint64ToDouble(w[0], w[1]);
        if (i < n) out[i++] = Uint64ToDouble(w[2], w[3]);
        continue;
      }
      // BoxMullerDouble.
      double u1 = Uint64ToDouble(w[0], w[1]);
      if (u1 < 1.0e-7) u1 = 1.0e-7;
      const double v1 = 2 * M_PI * Uint64ToDouble(w[2], w[3]);
      const double u2 = std::sqrt(-2.0 * std::log(u1));
      out[i++] = std::sin(v1) * u2;
      if (i < n) out[i++] = std::cos(v1) * u2;
    }
    return absl::OkStatus();
  }

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
        // Groups of 4 outputs, group g drawn from the stream at 256 g; values beyond two standard
        // deviations are drawn again from the group's own stream, as TensorFlow does.
        for (int64_t group = 0; i < n; ++group) {
          Philox g = gen;
          g.Skip(static_cast<uint64_t>(group) * 256);
          Philox::Words words{};
          int used = 4;  // words consumed one at a time (TensorFlow's SingleSampleAdapter)
          auto next_word = [&] {
            if (used == 4) {
              words = g.Next();
              used = 0;
            }
            return words[used++];
          };
          const int64_t end = std::min<int64_t>(n, i + 4);
          while (i < end) {
            const uint32_t x0 = next_word();
            const uint32_t x1 = next_word();
            auto [a, b] = BoxMullerFloat(x0, x1);
            if (std::abs(a) < 2.0f) out[i++] = static_cast<T>(a);
            if (i < end && std::abs(b) < 2.0f) out[i++] = static_cast<T>(b);
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
