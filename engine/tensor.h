// Tensors of the engine: a dtype, a shape and a reference-counted, 64-byte aligned buffer.
// Buffers are shared between tensors (reshape, identity and variable reads never copy), may be
// views onto memory owned elsewhere (a memory-mapped checkpoint), and hold std::string elements for
// DT_STRING and Resource handles for DT_RESOURCE. The engine knows nothing of files or RPC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace savant::engine {

// Values match TensorFlow's DataType enum (types.proto), so conversion is a cast.
enum class DataType : int {
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUInt8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kComplex64 = 8,
  kInt64 = 9,
  kBool = 10,
  kQInt8 = 11,
  kQUInt8 = 12,
  kQInt32 = 13,
  kBFloat16 = 14,
  kQInt16 = 15,
  kQUInt16 = 16,
  kUInt16 = 17,
  kComplex128 = 18,
  kHalf = 19,
  kResource = 20,
  kVariant = 21,
  kUInt32 = 22,
  kUInt64 = 23,
};

// TensorFlow's spelling: "DT_FLOAT", "DT_INT64", ...; "DT_INVALID" for unknown values.
absl::string_view DataTypeName(DataType dtype);
// Bytes per element for fixed-size types; 0 for kString, kResource, kVariant and kInvalid.
size_t DataTypeSize(DataType dtype);
// True for types whose elements are plain bytes (everything but string, resource and variant).
bool IsPodType(DataType dtype);

// Concrete dimensions. Static shapes with unknown parts use PartialShape.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::span<const int64_t> dims) : dims_(dims.begin(), dims.end()) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[i]; }
  void set_dim(int i, int64_t d) { dims_[i] = d; }
  void AddDim(int64_t d) { dims_.push_back(d); }
  void RemoveDim(int i) { dims_.erase(dims_.begin() + i); }
  void InsertDim(int i, int64_t d) { dims_.insert(dims_.begin() + i, d); }
  std::span<const int64_t> dims() const { return {dims_.data(), dims_.size()}; }
  // Product of the dims; 1 for a scalar.
  int64_t num_elements() const;

  bool operator==(const Shape& other) const { return dims_ == other.dims_; }
  bool operator!=(const Shape& other) const { return !(*this == other); }
  // "[2,3]"; "[]" for a scalar.
  std::string DebugString() const;

 private:
  absl::InlinedVector<int64_t, 6> dims_;
};

// A shape that may have unknown dims (-1) or an unknown rank, as in signatures and static inference.
class PartialShape {
 public:
  PartialShape() : unknown_rank_(true) {}
  explicit PartialShape(const Shape& s) : unknown_rank_(false), dims_(s.dims().begin(), s.dims().end()) {}
  PartialShape(std::initializer_list<int64_t> dims) : unknown_rank_(false), dims_(dims) {}
  static PartialShape UnknownRank() { return PartialShape(); }
  static PartialShape FromDims(std::span<const int64_t> dims) {
    PartialShape p;
    p.unknown_rank_ = false;
    p.dims_.assign(dims.begin(), dims.end());
    return p;
  }

  bool unknown_rank() const { return unknown_rank_; }
  int rank() const { return unknown_rank_ ? -1 : static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[i]; }
  std::span<const int64_t> dims() const { return {dims_.data(), dims_.size()}; }
  bool IsFullyDefined() const;
  // True when `shape` could be a value of this partial shape.
  bool IsCompatibleWith(const Shape& shape) const;
  // "[?,1]", "<unknown>" for unknown rank.
  std::string DebugString() const;
  bool operator==(const PartialShape& o) const {
    return unknown_rank_ == o.unknown_rank_ && dims_ == o.dims_;
  }

 private:
  bool unknown_rank_;
  absl::InlinedVector<int64_t, 6> dims_;
};

// Base of objects that a DT_RESOURCE tensor points to (variables, hash tables, ...).
class Resource {
 public:
  virtual ~Resource() = default;
  virtual std::string DebugString() const = 0;
};

// Storage of a tensor. Alignment is 64 bytes for owned POD buffers; views keep whatever alignment
// their memory has. Thread-compatible; immutable after the producing kernel finished writing.
class Buffer {
 public:
  virtual ~Buffer() = default;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 protected:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class Tensor {
 public:
  static constexpr size_t kAlignment = 64;

  // An invalid tensor (dtype kInvalid, no buffer).
  Tensor() = default;
  // Allocates an uninitialised POD buffer, or default-constructed strings/resources.
  Tensor(DataType dtype, const Shape& shape);
  // Wraps `buffer` starting at `offset` bytes; the buffer must hold shape's elements.
  Tensor(DataType dtype, const Shape& shape, std::shared_ptr<Buffer> buffer, size_t offset = 0);

  // Allocates and fills from `values` (row-major).
  template <typename T>
  static Tensor FromVector(DataType dtype, const Shape& shape, const std::vector<T>& values);
  static Tensor Scalar(float v);
  static Tensor StringScalar(std::string v);
  // Wraps external memory without copying; `keep_alive` owns it.
  static Tensor View(DataType dtype, const Shape& shape, const void* data,
                     std::shared_ptr<const void> keep_alive);

  bool valid() const { return dtype_ != DataType::kInvalid; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_.dim(i); }
  int64_t num_elements() const { return num_elements_; }
  // Bytes of element data (0 for string/resource tensors).
  size_t byte_size() const { return IsPodType(dtype_) ? num_elements_ * DataTypeSize(dtype_) : 0; }

  void* raw_data() { return buffer_ ? static_cast<char*>(buffer_->data()) + offset_ : nullptr; }
  const void* raw_data() const {
    return buffer_ ? static_cast<const char*>(buffer_->data()) + offset_ : nullptr;
  }
  template <typename T>
  T* data() { return static_cast<T*>(raw_data()); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(raw_data()); }
  template <typename T>
  std::span<T> flat() { return {data<T>(), static_cast<size_t>(num_elements_)}; }
  template <typename T>
  std::span<const T> flat() const { return {data<T>(), static_cast<size_t>(num_elements_)}; }
  template <typename T>
  T& scalar() { return *data<T>(); }
  template <typename T>
  const T& scalar() const { return *data<T>(); }

  // Same buffer, new shape with the same number of elements.
  absl::StatusOr<Tensor> Reshaped(const Shape& shape) const;
  // A deep copy with its own buffer.
  Tensor Clone() const;
  // True when both tensors reference the same bytes.
  bool SharesBufferWith(const Tensor& other) const { return buffer_ && buffer_ == other.buffer_; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  size_t buffer_offset() const { return offset_; }

  // "DT_FLOAT [2,1] {2.5, 3}" with at most `max_elements` values.
  std::string DebugString(int max_elements = 8) const;

 private:
  DataType dtype_ = DataType::kInvalid;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
};

// Element type of DT_RESOURCE tensors.
using ResourceHandle = std::shared_ptr<Resource>;

// Maps C++ element types to DataType.
template <typename T>
constexpr DataType DataTypeOf();
template <> constexpr DataType DataTypeOf<float>() { return DataType::kFloat; }
template <> constexpr DataType DataTypeOf<double>() { return DataType::kDouble; }
template <> constexpr DataType DataTypeOf<int32_t>() { return DataType::kInt32; }
template <> constexpr DataType DataTypeOf<int64_t>() { return DataType::kInt64; }
template <> constexpr DataType DataTypeOf<uint8_t>() { return DataType::kUInt8; }
template <> constexpr DataType DataTypeOf<int8_t>() { return DataType::kInt8; }
template <> constexpr DataType DataTypeOf<int16_t>() { return DataType::kInt16; }
template <> constexpr DataType DataTypeOf<uint16_t>() { return DataType::kUInt16; }
template <> constexpr DataType DataTypeOf<uint32_t>() { return DataType::kUInt32; }
template <> constexpr DataType DataTypeOf<uint64_t>() { return DataType::kUInt64; }
template <> constexpr DataType DataTypeOf<bool>() { return DataType::kBool; }
template <> constexpr DataType DataTypeOf<std::string>() { return DataType::kString; }
template <> constexpr DataType DataTypeOf<ResourceHandle>() { return DataType::kResource; }

template <typename T>
Tensor Tensor::FromVector(DataType dtype, const Shape& shape, const std::vector<T>& values) {
  Tensor t(dtype, shape);
  auto out = t.flat<T>();
  for (size_t i = 0; i < out.size() && i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace savant::engine
