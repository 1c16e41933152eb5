// TensorFlow's checkpoint format (the "tensor bundle" of tensorflow/core/util/tensor_bundle), which
// is also how a SavedModel stores its variables: `variables/variables.index` plus data shards
// `variables/variables.data-00000-of-00001`, ...
//
// The `.index` file is a table (loader/table.h). Under the empty key it holds a BundleHeaderProto
// (shard count, endianness, format version); under every tensor name a BundleEntryProto (dtype,
// shape, shard, offset, size, masked CRC-32C). A data shard is the tensors' bytes back to back:
// POD tensors as their little-endian element bytes; string tensors as varint64 lengths, a masked
// CRC-32C of the lengths, then the string bytes. A partitioned variable has an entry listing its
// slices and no bytes of its own; each slice is stored under an OrderedCode key
// (EncodeTensorNameSlice) that starts with a zero byte.
//
// BundleReader memory-maps the data shards, so tensors are zero-copy views of the page cache.
// BundleWriter writes the same bytes TensorFlow's BundleWriter writes for the same tensors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "loader/mapped_file.h"
#include "loader/table.h"
#include "tensorflow/core/protobuf/tensor_bundle.pb.h"

namespace savant::loader {

// One dimension of a TensorSlice: indices [start, start + length), or the whole dimension.
struct SliceExtent {
  static constexpr int64_t kFullExtent = -1;

  int64_t start = 0;
  int64_t length = kFullExtent;

  bool IsFull() const { return start == 0 && length == kFullExtent; }
  bool operator==(const SliceExtent&) const = default;
};

// A box inside a tensor, one extent per dimension (TensorFlow's TensorSlice).
struct TensorSlice {
  std::vector<SliceExtent> extents;

  // The whole of a rank-`rank` tensor.
  static TensorSlice Full(int rank) { return {std::vector<SliceExtent>(rank)}; }

  int rank() const { return static_cast<int>(extents.size()); }
  // True when every extent is full.
  bool IsFull() const;
  // The shape of the box inside a tensor of `full_shape`. INVALID_ARGUMENT when the ranks differ
  // or the box reaches outside `full_shape`.
  absl::StatusOr<engine::Shape> SliceShape(const engine::Shape& full_shape) const;
  // TensorFlow's spelling: "0,2:-" (start,length per dimension; "-" for a full one).
  std::string DebugString() const;
  bool operator==(const TensorSlice&) const = default;
};

// TensorFlow's key for the stored slice `slice` of partitioned tensor `name`
// (checkpoint::EncodeTensorNameSlice): OrderedCode of 0, the name, the rank, then start and length
// (-1 when full) of each dimension.
std::string EncodeTensorNameSlice(std::string_view name, const TensorSlice& slice);
// The inverse; INVALID_ARGUMENT when `key` is not such a key.
absl::StatusOr<std::pair<std::string, TensorSlice>> DecodeTensorNameSlice(std::string_view key);

// "<prefix>.index".
std::string BundleIndexFilename(std::string_view prefix);
// "<prefix>.data-00003-of-00010" for shard 3 of 10.
std::string BundleDataFilename(std::string_view prefix, int shard, int num_shards);

// One tensor of the index.
struct BundleEntry {
  std::string name;
  engine::DataType dtype = engine::DataType::kInvalid;
  engine::Shape shape;
  int shard_id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  // Unmasked CRC-32C of the stored bytes (for strings, of the lengths and the bytes).
  uint32_t crc32c = 0;
  // Non-empty for a partitioned tensor, which has no bytes of its own: its slices are entries
  // under EncodeTensorNameSlice(name, slice).
  std::vector<TensorSlice> slices;
};

// Read access to one checkpoint. Open reads and checks the whole index and maps every data shard;
// afterwards the reader is immutable, so concurrent Lookup calls are thread-safe.
//
//   ASSIGN_OR_RETURN(auto reader, BundleReader::Open(dir + "/variables/variables"));
//   ASSIGN_OR_RETURN(engine::Tensor kernel, reader->Lookup("dense/kernel"));
class BundleReader {
 public:
  // Opens "<prefix>.index" and maps "<prefix>.data-NNNNN-of-MMMMM" for every shard the header
  // names. Errors name the file, the key and the offset involved:
  //   NOT_FOUND (index or a data shard missing), PERMISSION_DENIED,
  //   DATA_LOSS (not a table, bad checksum, unparseable header or entry, invalid shape, shard id
  //     out of range, entry bytes past the end of the shard, size not matching dtype and shape),
  //   INVALID_ARGUMENT (format version this reader does not accept),
  //   UNIMPLEMENTED (written on a big-endian machine).
  static absl::StatusOr<std::unique_ptr<BundleReader>> Open(const std::string& prefix);

  // As Open, from the index bytes and one string per data shard, for callers that already hold
  // the files (tests, the fuzzer). `prefix` only names the bundle in messages. The shard count
  // must equal the header's.
  static absl::StatusOr<std::unique_ptr<BundleReader>> OpenFromMemory(
      std::string index, std::vector<std::string> data_shards, std::string prefix = "<memory>");

  BundleReader(const BundleReader&) = delete;
  BundleReader& operator=(const BundleReader&) = delete;
  ~BundleReader();

  const std::string& prefix() const { return prefix_; }
  int num_shards() const { return static_cast<int>(shards_.size()); }
  // True when the index file has snappy-compressed blocks (see TableOptions::compression).
  bool index_compressed() const { return index_compressed_; }

  // Every entry but the header, sorted by name (bytewise), so the stored slices of partitioned
  // tensors, whose keys start with a zero byte, come first.
  const std::vector<BundleEntry>& entries() const { return entries_; }
  // NOT_FOUND, naming the bundle and the key, when there is no entry `name`.
  absl::StatusOr<const BundleEntry*> FindEntry(std::string_view name) const;
  bool Contains(std::string_view name) const { return FindEntry(name).ok(); }

  // The tensor stored under `name`, or assembled from its slices when it is partitioned. Every
  // call computes the CRC-32C of the bytes it returns and compares it with the index (with the
  // SSE4.2 instruction that is roughly 0.1 ms per MB; the bytes are touched once either way).
  // A POD tensor whose offset is aligned to its element size is a zero-copy view of the mapped
  // shard (the view keeps the mapping alive); otherwise, and for strings and partitioned tensors,
  // the result owns a copy. Errors:
  //   NOT_FOUND (no such entry), DATA_LOSS (checksum mismatch, malformed string data, bool bytes
  //   other than 0 and 1, missing or inconsistent slices), UNIMPLEMENTED (DT_VARIANT, DT_RESOURCE
  //   or partitioned strings).
  absl::StatusOr<engine::Tensor> Lookup(std::string_view name) const;

  // The box `slice` of tensor `name` (partitioned or not). INVALID_ARGUMENT when the slice does
  // not fit the tensor's shape; otherwise the errors of Lookup.
  absl::StatusOr<engine::Tensor> LookupSlice(std::string_view name, const TensorSlice& slice) const;

 private:
  struct Shard {
    std::string file_name;
    std::string_view contents;
    std::shared_ptr<const void> keep_alive;
    // The mapping, for data shards read from files (null for shards given in memory).
    const MappedFile* file = nullptr;
  };

  BundleReader() = default;
  static absl::StatusOr<std::unique_ptr<BundleReader>> Create(std::string prefix,
                                                              std::string index_file_name,
                                                              std::string_view index,
                                                              std::vector<Shard> shards,
                                                              bool open_files);
  absl::Status ParseIndex(std::string_view index, bool open_files);
  absl::Status AddEntry(std::string_view key, std::string_view value);
  absl::Status CheckEntry(const BundleEntry& entry) const;
  absl::StatusOr<engine::Tensor> ReadStored(const BundleEntry& entry) const;
  absl::StatusOr<engine::Tensor> ReadStrings(const BundleEntry& entry,
                                             std::string_view bytes) const;
  absl::StatusOr<engine::Tensor> Assemble(const BundleEntry& entry) const;
  // "tensor "name" at offset O size S" with the shard's file name in front.
  std::string Where(const BundleEntry& entry) const;

  std::string prefix_;
  std::string index_file_name_;
  bool index_compressed_ = false;
  std::vector<Shard> shards_;
  std::vector<BundleEntry> entries_;
};

struct BundleWriterOptions {
  // Zero bytes are appended after each tensor up to a multiple of this (TensorFlow's default of 1
  // packs tensors densely; readers accept any alignment).
  int data_alignment = 1;
  // Compression of the index's table blocks.
  TableCompression index_compression = TableCompression::kNone;
};

// Writes one checkpoint with a single data shard. Thread-compatible.
//
//   BundleWriter writer("/tmp/ckpt/variables/variables");
//   RETURN_IF_ERROR(writer.Add("dense/kernel", kernel));
//   RETURN_IF_ERROR(writer.Finish());
//
// Tensors are appended to the data shard in the order they are added, as TensorFlow does, and the
// index lists them sorted by name, with header {num_shards: 1, endianness: LITTLE,
// version {producer: 1}}. Both files are written under temporary names and renamed into place by
// Finish. After the first error every call returns that error.
class BundleWriter {
 public:
  using Options = BundleWriterOptions;

  explicit BundleWriter(std::string prefix, Options options = {});
  // A writer whose Finish leaves the two files in index_bytes() and data_bytes().
  static std::unique_ptr<BundleWriter> InMemory(Options options = {});
  // Removes the temporary files of an unfinished writer.
  ~BundleWriter();
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  // Adds `tensor` (any POD dtype or DT_STRING) under `name`. INVALID_ARGUMENT for an empty or
  // duplicate name or an invalid tensor; UNIMPLEMENTED for DT_RESOURCE and DT_VARIANT; the I/O
  // error of the data file otherwise.
  absl::Status Add(std::string_view name, const engine::Tensor& tensor);

  // Adds the box `slice` of partitioned tensor `name` of shape `full_shape`. A full slice is the
  // same as Add. INVALID_ARGUMENT when the slice does not fit `full_shape`, `tensor` does not have
  // the slice's shape, the dtype or full shape differ from earlier slices, the slice was added
  // before, or `name` was added whole.
  absl::Status AddSlice(std::string_view name, const engine::Shape& full_shape,
                        const TensorSlice& slice, const engine::Tensor& tensor);

  // Writes the index and moves both files into place.
  absl::Status Finish();

  const absl::Status& status() const { return status_; }
  // In-memory writers, after Finish.
  const std::string& index_bytes() const { return index_bytes_; }
  const std::string& data_bytes() const { return data_bytes_; }

 private:
  class DataFile;

  BundleWriter(Options options, bool in_memory);
  absl::Status Append(std::string_view bytes);

  Options options_;
  std::string prefix_;
  bool in_memory_;
  bool finished_ = false;
  absl::Status status_;
  std::unique_ptr<DataFile> data_file_;
  std::string data_bytes_;
  std::string index_bytes_;
  int64_t size_ = 0;
  std::map<std::string, tensorflow::BundleEntryProto> entries_;
};

}  // namespace savant::loader
