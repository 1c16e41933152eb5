// TensorFlow's immutable sorted string table (tensorflow/core/lib/io/table*.cc, LevelDB's SSTable
// format), which is the format of a checkpoint's `.index` file: the empty key holds a
// BundleHeaderProto and every other key is a tensor name mapped to a BundleEntryProto.
//
// File layout (TensorFlow's table_format.txt):
//   data block*  metaindex block  index block  footer
// A block is `contents, type byte (0 none, 1 snappy), masked CRC-32C of contents + type` (5-byte
// trailer). Block contents hold prefix-compressed entries `varint32 shared, varint32 unshared,
// varint32 value_size, key delta, value`, then restart offsets (fixed32 each) and their count. The
// index block maps a separator key >= every key of a data block to that block's handle
// (varint64 offset, varint64 size). The 48-byte footer holds the metaindex and index handles,
// zero-padded to 40 bytes, and the magic number 0xdb4775248b80fb57 (fixed64).
//
// The reader works on an in-memory copy of the file (index files are small); the writer produces
// the bytes TensorFlow's TableBuilder produces for the same entries and options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace savant::loader {

// Values are the block type bytes of the file format.
enum class TableCompression : uint8_t {
  kNone = 0,
  kSnappy = 1,
};

struct TableOptions {
  // Target size of a data block before the writer starts a new one. TensorFlow's table::Options
  // default, which BundleWriter uses.
  size_t block_size = 262144;
  // Entries between restart points (full keys) in data blocks; index blocks always use 1.
  int block_restart_interval = 16;
  // Snappy is applied to a block only when it saves at least 1/8 of the block, as TensorFlow does.
  // Open-source TensorFlow writes checkpoint indexes uncompressed; some files written at Google
  // (several of TensorFlow Serving's test models among them) have snappy-compressed blocks.
  TableCompression compression = TableCompression::kNone;
};

// Read access to one table held in memory. Thread-compatible, and safe for concurrent const use:
// every call decodes the blocks it needs from the immutable file contents.
//
//   ASSIGN_OR_RETURN(TableReader table, TableReader::Open("variables.index", bytes));
//   RETURN_IF_ERROR(table.ForEach([](std::string_view key, std::string_view value) { ... }));
class TableReader {
 public:
  // Checks the footer and the index block (magic number, handles in range, checksum, structure).
  // DATA_LOSS, naming `file_name`, what is wrong and at which offset, when the file is not a
  // valid table. `contents` must outlive the reader.
  static absl::StatusOr<TableReader> Open(std::string file_name, std::string_view contents);

  // Calls `fn(key, value)` for every entry in key order, stopping at (and returning) the first
  // error `fn` returns. Verifies each data block's checksum and structure and that keys strictly
  // increase; DATA_LOSS otherwise. The views are valid only during the call.
  absl::Status ForEach(
      absl::FunctionRef<absl::Status(std::string_view key, std::string_view value)> fn) const;

  // The value stored under `key`: binary search in the index block, then in the data block's
  // restart points. NOT_FOUND when the key is absent; DATA_LOSS when a block read is corrupt.
  absl::StatusOr<std::string> Get(std::string_view key) const;

  // True when the index block or any data block is snappy-compressed. DATA_LOSS when the index
  // block is unreadable (it was checked by Open, so only for a table modified since).
  absl::StatusOr<bool> HasCompressedBlocks() const;

  const std::string& file_name() const { return file_name_; }

 private:
  struct Handle {
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  TableReader(std::string file_name, std::string_view contents)
      : file_name_(std::move(file_name)), contents_(contents) {}

  std::string file_name_;
  std::string_view contents_;
  Handle index_handle_;
};

// Builds a table in memory from entries added in strictly increasing bytewise key order.
// Thread-compatible.
//
//   TableWriter writer;
//   RETURN_IF_ERROR(writer.Add("", header_bytes));
//   RETURN_IF_ERROR(writer.Add("dense/kernel", entry_bytes));
//   std::string file = writer.Finish();
class TableWriter {
 public:
  explicit TableWriter(TableOptions options = {});
  ~TableWriter();
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  // INVALID_ARGUMENT, quoting both keys, when `key` is not greater than the previous key;
  // FAILED_PRECONDITION after Finish.
  absl::Status Add(std::string_view key, std::string_view value);

  // Writes the pending data block, the empty metaindex block, the index block and the footer, and
  // returns the whole file. Later calls return an empty string.
  std::string Finish();

 private:
  class BlockBuilder;

  void FlushDataBlock();
  void WriteBlock(BlockBuilder& block, uint64_t* offset, uint64_t* size);

  TableOptions options_;
  std::string file_;
  std::string last_key_;
  int64_t entry_count_ = 0;
  bool finished_ = false;
  // The index entry of a flushed data block is written when the next key is known, so that its
  // separator can be shortened to fall between the two blocks.
  bool pending_index_entry_ = false;
  uint64_t pending_offset_ = 0;
  uint64_t pending_size_ = 0;
  std::unique_ptr<BlockBuilder> data_block_;
  std::unique_ptr<BlockBuilder> index_block_;
};

// Snappy raw (block) format, as used for compressed table blocks. SnappyCompress follows the
// snappy library's compressor (64 KiB fragments, a hash table of 256 to 16384 entries, hash
// (bytes * 0x1e35a7bd) >> 18, a skip that grows by skip / 32 per miss), so it reproduces the blocks
// of the TensorFlow 1.14, 2.10 and 2.14 files among the fixtures byte for byte. SnappyUncompress
// validates every tag, length and offset and returns DATA_LOSS saying what is wrong and where.
std::string SnappyCompress(std::string_view input);
absl::StatusOr<std::string> SnappyUncompress(std::string_view input);

}  // namespace savant::loader
