#include "engine/tensor.h"

#include <cstdlib>
#include <new>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace savant::engine {
namespace {

// Steady-state runs reuse memory instead of going to the heap: freed buffers go to a per-thread
// cache of power-of-two size classes (64 B .. 64 MiB), capped per thread, and the next allocation
// of the same class on that thread takes one back. Buffers may be freed on another thread than the
// one that allocated them (outputs travel to request threads); each thread's cache is bounded.
class BufferCache {
 public:
  static constexpr int kMinShift = 6;   // 64 bytes
  static constexpr int kMaxShift = 26;  // 64 MiB
  static constexpr size_t kMaxCachedBytes = size_t{256} << 20;
  static constexpr size_t kMaxPerClass = 64;

  // The calling thread's cache, or nullptr while the thread is exiting (buffers freed by
  // thread-exit or static destructors after the cache is gone go straight back to the heap).
  static BufferCache* Local() {
    if (dead_) return nullptr;
    thread_local BufferCache cache;
    return &cache;
  }
  ~BufferCache() {
    dead_ = true;
    for (auto& list : free_) {
      for (void* p : list) std::free(p);
    }
  }

  // Rounded allocation size and class index, or class -1 for sizes that are not cached.
  static std::pair<size_t, int> Class(size_t size) {
    if (size == 0) return {0, -1};
    int shift = kMinShift;
    while ((size_t{1} << shift) < size && shift <= kMaxShift) ++shift;
    if (shift > kMaxShift) {
      return {(size + Tensor::kAlignment - 1) / Tensor::kAlignment * Tensor::kAlignment, -1};
    }
    return {size_t{1} << shift, shift - kMinShift};
  }

  void* Take(int cls) {
    auto& list = free_[cls];
    if (list.empty()) return nullptr;
    void* p = list.back();
    list.pop_back();
    cached_bytes_ -= size_t{1} << (cls + kMinShift);
    return p;
  }

  // Keeps `p` for reuse, or frees it when the cache is full.
  void Give(void* p, int cls) {
    size_t bytes = size_t{1} << (cls + kMinShift);
    auto& list = free_[cls];
    if (cached_bytes_ + bytes > kMaxCachedBytes || list.size() >= kMaxPerClass) {
      std::free(p);
      return;
    }
    list.push_back(p);
    cached_bytes_ += bytes;
  }

 private:
  static thread_local bool dead_;
  std::vector<void*> free_[kMaxShift - kMinShift + 1];
  size_t cached_bytes_ = 0;
};

thread_local bool BufferCache::dead_ = false;

// Owned POD storage, 64-byte aligned so SIMD loads never straddle cache lines at row starts.
class AlignedBuffer final : public Buffer {
 public:
  explicit AlignedBuffer(size_t size) {
    size_ = size;
    auto [rounded, cls] = BufferCache::Class(size);
    cls_ = cls;
    if (rounded == 0) return;
    BufferCache* cache = cls >= 0 ? BufferCache::Local() : nullptr;
    data_ = cache != nullptr ? cache->Take(cls) : nullptr;
    if (data_ == nullptr) data_ = std::aligned_alloc(Tensor::kAlignment, rounded);
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() override {
    if (data_ == nullptr) return;
    BufferCache* cache = cls_ >= 0 ? BufferCache::Local() : nullptr;
    if (cache != nullptr) {
      cache->Give(data_, cls_);
    } else {
      std::free(data_);
    }
  }

 private:
  int cls_ = -1;
};

// Non-POD elements (std::string, ResourceHandle) constructed in place.
template <typename T>
class ObjectBuffer final : public Buffer {
 public:
  explicit ObjectBuffer(int64_t n) : items_(static_cast<size_t>(n)) {
    data_ = items_.data();
    size_ = items_.size() * sizeof(T);
  }

 private:
  std::vector<T> items_;
};

// Memory owned by someone else (a memory-mapped file); `keep_alive` pins it.
class ViewBuffer final : public Buffer {
 public:
  ViewBuffer(const void* data, size_t size, std::shared_ptr<const void> keep_alive)
      : keep_alive_(std::move(keep_alive)) {
    data_ = const_cast<void*>(data);
    size_ = size;
  }

 private:
  std::shared_ptr<const void> keep_alive_;
};

std::shared_ptr<Buffer> Allocate(DataType dtype, int64_t n) {
  switch (dtype) {
    case DataType::kString: return std::make_shared<ObjectBuffer<std::string>>(n);
    case DataType::kResource:
    case DataType::kVariant: return std::make_shared<ObjectBuffer<ResourceHandle>>(n);
    default: return std::make_shared<AlignedBuffer>(static_cast<size_t>(n) * DataTypeSize(dtype));
  }
}

template <typename T>
void AppendValues(std::ostringstream& os, const Tensor& t, int64_t n) {
  const T* p = t.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    if (i) os << ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      os << '"' << p[i] << '"';
    } else if constexpr (sizeof(T) == 1 && !std::is_same_v<T, bool>) {
      os << static_cast<int>(p[i]);
    } else {
      os << p[i];
    }
  }
}

}  // namespace

absl::string_view DataTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat: return "DT_FLOAT";
    case DataType::kDouble: return "DT_DOUBLE";
    case DataType::kInt32: return "DT_INT32";
    case DataType::kUInt8: return "DT_UINT8";
    case DataType::kInt16: return "DT_INT16";
    case DataType::kInt8: return "DT_INT8";
    case DataType::kString: return "DT_STRING";
    case DataType::kComplex64: return "DT_COMPLEX64";
    case DataType::kInt64: return "DT_INT64";
    case DataType::kBool: return "DT_BOOL";
    case DataType::kQInt8: return "DT_QINT8";
    case DataType::kQUInt8: return "DT_QUINT8";
    case DataType::kQInt32: return "DT_QINT32";
    case DataType::kBFloat16: return "DT_BFLOAT16";
    case DataType::kQInt16: return "DT_QINT16";
    case DataType::kQUInt16: return "DT_QUINT16";
    case DataType::kUInt16: return "DT_UINT16";
    case DataType::kComplex128: return "DT_COMPLEX128";
    case DataType::kHalf: return "DT_HALF";
    case DataType::kResource: return "DT_RESOURCE";
    case DataType::kVariant: return "DT_VARIANT";
    case DataType::kUInt32: return "DT_UINT32";
    case DataType::kUInt64: return "DT_UINT64";
    case DataType::kInvalid: break;
  }
  return "DT_INVALID";
}

size_t DataTypeSize(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat: return 4;
    case DataType::kDouble: return 8;
    case DataType::kInt32: return 4;
    case DataType::kUInt8: return 1;
    case DataType::kInt16: return 2;
    case DataType::kInt8: return 1;
    case DataType::kComplex64: return 8;
    case DataType::kInt64: return 8;
    case DataType::kBool: return 1;
    case DataType::kQInt8: return 1;
    case DataType::kQUInt8: return 1;
    case DataType::kQInt32: return 4;
    case DataType::kBFloat16: return 2;
    case DataType::kQInt16: return 2;
    case DataType::kQUInt16: return 2;
    case DataType::kUInt16: return 2;
    case DataType::kComplex128: return 16;
    case DataType::kHalf: return 2;
    case DataType::kUInt32: return 4;
    case DataType::kUInt64: return 8;
    default: return 0;
  }
}

bool IsPodType(DataType dtype) { return DataTypeSize(dtype) != 0; }

int64_t Shape::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

std::string Shape::DebugString() const { return absl::StrCat("[", absl::StrJoin(dims_, ","), "]"); }

bool PartialShape::IsFullyDefined() const {
  if (unknown_rank_) return false;
  for (int64_t d : dims_) {
    if (d < 0) return false;
  }
  return true;
}

bool PartialShape::IsCompatibleWith(const Shape& shape) const {
  if (unknown_rank_) return true;
  if (shape.rank() != rank()) return false;
  for (int i = 0; i < rank(); ++i) {
    if (dims_[i] >= 0 && dims_[i] != shape.dim(i)) return false;
  }
  return true;
}

std::string PartialShape::DebugString() const {
  if (unknown_rank_) return "<unknown>";
  return absl::StrCat("[",
                      absl::StrJoin(dims_, ",",
                                    [](std::string* out, int64_t d) {
                                      absl::StrAppend(out, d < 0 ? "?" : absl::StrCat(d));
                                    }),
                      "]");
}

Tensor::Tensor(DataType dtype, const Shape& shape)
    : dtype_(dtype), shape_(shape), num_elements_(shape.num_elements()) {
  buffer_ = Allocate(dtype, num_elements_);
}

Tensor::Tensor(DataType dtype, const Shape& shape, std::shared_ptr<Buffer> buffer, size_t offset)
    : dtype_(dtype),
      shape_(shape),
      num_elements_(shape.num_elements()),
      buffer_(std::move(buffer)),
      offset_(offset) {}

Tensor Tensor::Scalar(float v) {
  Tensor t(DataType::kFloat, Shape{});
  t.scalar<float>() = v;
  return t;
}

Tensor Tensor::StringScalar(std::string v) {
  Tensor t(DataType::kString, Shape{});
  t.scalar<std::string>() = std::move(v);
  return t;
}

Tensor Tensor::View(DataType dtype, const Shape& shape, const void* data,
                    std::shared_ptr<const void> keep_alive) {
  size_t bytes = static_cast<size_t>(shape.num_elements()) * DataTypeSize(dtype);
  return Tensor(dtype, shape, std::make_shared<ViewBuffer>(data, bytes, std::move(keep_alive)));
}

absl::StatusOr<Tensor> Tensor::Reshaped(const Shape& shape) const {
  if (shape.num_elements() != num_elements_) {
    return absl::InvalidArgumentError(absl::StrCat("cannot reshape a tensor with ", num_elements_,
                                                   " elements to shape ", shape.DebugString(), " (",
                                                   shape.num_elements(), " elements)"));
  }
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::Clone() const {
  if (!valid()) return Tensor();
  Tensor t(dtype_, shape_);
  if (dtype_ == DataType::kString) {
    auto src = flat<std::string>();
    auto dst = t.flat<std::string>();
    for (size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
  } else if (dtype_ == DataType::kResource || dtype_ == DataType::kVariant) {
    auto src = flat<ResourceHandle>();
    auto dst = t.flat<ResourceHandle>();
    for (size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
  } else if (byte_size() > 0) {
    std::memcpy(t.raw_data(), raw_data(), byte_size());
  }
  return t;
}

std::string Tensor::DebugString(int max_elements) const {
  std::ostringstream os;
  os << DataTypeName(dtype_) << ' ' << shape_.DebugString();
  if (!valid()) return os.str();
  int64_t n = std::min<int64_t>(num_elements_, max_elements);
  os << " {";
  switch (dtype_) {
    case DataType::kFloat: AppendValues<float>(os, *this, n); break;
    case DataType::kDouble: AppendValues<double>(os, *this, n); break;
    case DataType::kInt32: AppendValues<int32_t>(os, *this, n); break;
    case DataType::kInt64: AppendValues<int64_t>(os, *this, n); break;
    case DataType::kUInt8: AppendValues<uint8_t>(os, *this, n); break;
    case DataType::kInt8: AppendValues<int8_t>(os, *this, n); break;
    case DataType::kBool: AppendValues<bool>(os, *this, n); break;
    case DataType::kString: AppendValues<std::string>(os, *this, n); break;
    default: os << "..."; break;
  }
  if (n < num_elements_) os << ", ...";
  os << "}";
  return os.str();
}

}  // namespace savant::engine
