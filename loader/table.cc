#include "loader/table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/status_macros.h"
#include "loader/crc32c.h"

namespace savant::loader {
namespace {

constexpr size_t kBlockTrailerSize = 5;  // type byte + fixed32 masked crc
constexpr size_t kMaxHandleLength = 20;  // two varint64
constexpr size_t kFooterSize = 2 * kMaxHandleLength + 8;
constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;

uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  return static_cast<uint64_t>(DecodeFixed32(p)) |
         (static_cast<uint64_t>(DecodeFixed32(p + 4)) << 32);
}

void PutFixed32(std::string* out, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(buf, 4);
}

void PutVarint64(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Decodes a varint of at most `max_bits` bits (32 or 64) from [*p, limit) and advances *p. False
// when the input ends inside the varint or the value does not fit in `max_bits` bits.
bool GetVarint(const char** p, const char* limit, int max_bits, uint64_t* value) {
  const int max_bytes = (max_bits + 6) / 7;
  uint64_t result = 0;
  for (int i = 0; i < max_bytes && *p < limit; ++i) {
    const uint64_t byte = static_cast<uint8_t>(**p);
    ++*p;
    const int shift = 7 * i;
    if (shift == 63 && (byte & 0x7e) != 0) return false;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (max_bits < 64 && (result >> max_bits) != 0) return false;
      *value = result;
      return true;
    }
  }
  return false;
}

std::string Hex32(uint32_t v) { return absl::StrFormat("0x%08x", v); }

// A printable rendering of a key for error messages: printable ASCII kept, other bytes as \xNN.
std::string QuoteKey(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", u));
    }
  }
  if (key.size() > 200) out += "...";
  out += "\"";
  return out;
}

// ----------------------------------------------------------------------------------------------
// Snappy

constexpr size_t kSnappyFragmentSize = 1 << 16;
constexpr size_t kSnappyInputMargin = 15;

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void EmitLiteral(const uint8_t* literal, size_t length, std::string* out) {
  const size_t n = length - 1;
  if (n < 60) {
    out->push_back(static_cast<char>(n << 2));
  } else {
    char extra[4];
    int count = 0;
    for (size_t v = n; v > 0; v >>= 8) extra[count++] = static_cast<char>(v & 0xff);
    out->push_back(static_cast<char>((59 + count) << 2));
    out->append(extra, count);
  }
  out->append(reinterpret_cast<const char*>(literal), length);
}

// One copy element of at most 64 bytes: the 2-byte form (length 4..11, offset < 2048) when it fits,
// else the 3-byte form.
void EmitCopyAtMost64(size_t offset, size_t length, std::string* out) {
  if (length < 12 && offset < 2048) {
    out->push_back(static_cast<char>(1 + ((length - 4) << 2) + ((offset >> 8) << 5)));
    out->push_back(static_cast<char>(offset & 0xff));
  } else {
    out->push_back(static_cast<char>(2 + ((length - 1) << 2)));
    out->push_back(static_cast<char>(offset & 0xff));
    out->push_back(static_cast<char>((offset >> 8) & 0xff));
  }
}

void EmitCopy(size_t offset, size_t length, std::string* out) {
  // Pieces of 64, keeping at least 4 bytes for the last piece (a copy is at least 4 long).
  while (length >= 68) {
    EmitCopyAtMost64(offset, 64, out);
    length -= 64;
  }
  if (length > 64) {
    EmitCopyAtMost64(offset, 60, out);
    length -= 60;
  }
  EmitCopyAtMost64(offset, length, out);
}

void CompressFragment(const uint8_t* input, size_t size, std::string* out) {
  size_t table_size = 256;
  while (table_size < (1u << 14) && table_size < size) table_size <<= 1;
  std::vector<uint16_t> table(table_size, 0);
  const auto hash = [table_size](uint32_t bytes) {
    return ((bytes * 0x1e35a7bdu) >> 18) & static_cast<uint32_t>(table_size - 1);
  };

  size_t next_emit = 0;
  if (size >= kSnappyInputMargin) {
    const size_t ip_limit = size - kSnappyInputMargin;
    size_t ip = 1;
    while (true) {
      // Look for a 4-byte match, probing less often the longer nothing matches.
      uint32_t skip = 32;
      size_t candidate = 0;
      while (true) {
        const uint32_t h = hash(Load32(input + ip));
        const uint32_t step = skip >> 5;
        skip += step;
        const size_t next_ip = ip + step;
        if (next_ip > ip_limit) goto emit_remainder;
        candidate = table[h];
        table[h] = static_cast<uint16_t>(ip);
        if (Load32(input + ip) == Load32(input + candidate)) break;
        ip = next_ip;
      }
      EmitLiteral(input + next_emit, ip - next_emit, out);
      // Emit copies for as long as the position right after a copy starts another match.
      while (true) {
        const size_t base = ip;
        size_t matched = 4;
        while (ip + matched < size && input[candidate + matched] == input[ip + matched]) ++matched;
        ip += matched;
        EmitCopy(base - candidate, matched, out);
        next_emit = ip;
        if (ip >= ip_limit) goto emit_remainder;
        table[hash(Load32(input + ip - 1))] = static_cast<uint16_t>(ip - 1);
        const uint32_t h = hash(Load32(input + ip));
        candidate = table[h];
        table[h] = static_cast<uint16_t>(ip);
        if (Load32(input + ip) != Load32(input + candidate)) break;
      }
      ++ip;
    }
  }
emit_remainder:
  if (next_emit < size) EmitLiteral(input + next_emit, size - next_emit, out);
}

// ----------------------------------------------------------------------------------------------
// Blocks

// Where a block sits, for error messages: `variables.index: block at offset 0 (92 bytes): ...`.
struct BlockLocation {
  const std::string* file_name;
  uint64_t offset;
  uint64_t size;

  absl::Status Error(absl::string_view what) const {
    return absl::DataLossError(
        absl::StrCat(*file_name, ": block at offset ", offset, " (", size, " bytes): ", what));
  }
};

// The decoded contents of one block: a view into the file, or owned after decompression.
struct Block {
  std::optional<std::string> owned;
  std::string_view raw;
  TableCompression compression = TableCompression::kNone;
  std::string_view contents() const { return owned ? std::string_view(*owned) : raw; }
};

// Verifies the trailer checksum of the block at `handle` and decompresses it.
absl::StatusOr<Block> ReadBlock(const std::string& file_name, std::string_view file,
                                uint64_t data_end, uint64_t offset, uint64_t size) {
  const BlockLocation where{&file_name, offset, size};
  if (offset > data_end || size > data_end - offset ||
      data_end - offset - size < kBlockTrailerSize) {
    return where.Error(absl::StrCat("extends past the end of the blocks (", data_end,
                                    " bytes before the footer)"));
  }
  const char* p = file.data() + offset;
  const uint32_t expected = crc32c::Unmask(DecodeFixed32(p + size + 1));
  const uint32_t actual = crc32c::Value(p, size + 1);
  if (expected != actual) {
    return where.Error(
        absl::StrCat("checksum mismatch: expected ", Hex32(expected), ", found ", Hex32(actual)));
  }
  Block block;
  block.raw = std::string_view(p, size);
  switch (static_cast<uint8_t>(p[size])) {
    case 0:
      break;
    case 1: {
      block.compression = TableCompression::kSnappy;
      auto uncompressed = SnappyUncompress(block.raw);
      if (!uncompressed.ok()) return where.Error(uncompressed.status().message());
      block.owned = std::move(*uncompressed);
      break;
    }
    default:
      return where.Error(absl::StrCat("unknown block type ", static_cast<uint8_t>(p[size]),
                                      " (expected 0 for uncompressed or 1 for snappy)"));
  }
  return block;
}

// Iterates the entries of one block's contents, checking the structure as it goes.
class BlockCursor {
 public:
  static absl::StatusOr<BlockCursor> Create(std::string_view contents, BlockLocation where) {
    if (contents.size() < 4) {
      return where.Error(absl::StrCat("contents are ", contents.size(),
                                      " bytes, too short for the restart count (4 bytes)"));
    }
    const uint32_t restart_count = DecodeFixed32(contents.data() + contents.size() - 4);
    const uint64_t max_restarts = (contents.size() - 4) / 4;
    if (restart_count == 0 || restart_count > max_restarts) {
      return where.Error(absl::StrCat("restart array out of range: ", restart_count,
                                      " restart points need ", 4 + 4ull * restart_count,
                                      " bytes, the block has ", contents.size()));
    }
    BlockCursor cursor(contents, where, restart_count);
    for (uint32_t i = 0; i < restart_count; ++i) {
      if (cursor.RestartPoint(i) > cursor.restarts_offset_) {
        return where.Error(absl::StrCat("restart point ", i, " at offset ", cursor.RestartPoint(i),
                                        " is past the entries (", cursor.restarts_offset_,
                                        " bytes)"));
      }
    }
    return cursor;
  }

  bool Valid() const { return valid_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

  // Positions at the first entry.
  absl::Status SeekToFirst() {
    key_.clear();
    next_ = 0;
    return Next();
  }

  // Advances to the next entry; Valid() turns false after the last one.
  absl::Status Next() {
    if (next_ >= restarts_offset_) {
      valid_ = false;
      return absl::OkStatus();
    }
    const char* p = contents_.data() + next_;
    const char* limit = contents_.data() + restarts_offset_;
    uint64_t shared, unshared, value_size;
    if (!GetVarint(&p, limit, 32, &shared) || !GetVarint(&p, limit, 32, &unshared) ||
        !GetVarint(&p, limit, 32, &value_size)) {
      return where_.Error(absl::StrCat("bad varint in the entry header at block offset ", next_));
    }
    if (shared > key_.size()) {
      return where_.Error(absl::StrCat("entry at block offset ", next_, " shares ", shared,
                                       " key bytes with the previous key, which has only ",
                                       key_.size()));
    }
    const uint64_t available = static_cast<uint64_t>(limit - p);
    if (unshared > available || value_size > available - unshared) {
      return where_.Error(absl::StrCat("entry at block offset ", next_, " needs ",
                                       unshared + value_size, " bytes of key and value, only ",
                                       available, " remain before the restart array"));
    }
    key_.resize(shared);
    key_.append(p, unshared);
    value_ = std::string_view(p + unshared, value_size);
    next_ = static_cast<uint64_t>(p + unshared + value_size - contents_.data());
    valid_ = true;
    return absl::OkStatus();
  }

  // Positions at the first entry whose key is >= target (Valid() false when there is none).
  absl::Status Seek(std::string_view target) {
    // Binary search for the last restart point whose key is < target; restart entries store their
    // whole key (shared == 0).
    uint32_t left = 0;
    uint32_t right = restart_count_ - 1;
    while (left < right) {
      const uint32_t mid = (left + right + 1) / 2;
      ASSIGN_OR_RETURN(std::string_view mid_key, RestartKey(mid));
      if (mid_key < target) {
        left = mid;
      } else {
        right = mid - 1;
      }
    }
    key_.clear();
    next_ = RestartPoint(left);
    while (true) {
      RETURN_IF_ERROR(Next());
      if (!valid_ || key_ >= target) return absl::OkStatus();
    }
  }

 private:
  BlockCursor(std::string_view contents, BlockLocation where, uint32_t restart_count)
      : contents_(contents),
        where_(where),
        restart_count_(restart_count),
        restarts_offset_(contents.size() - 4 - 4ull * restart_count) {}

  uint64_t RestartPoint(uint32_t i) const {
    return DecodeFixed32(contents_.data() + restarts_offset_ + 4ull * i);
  }

  absl::StatusOr<std::string_view> RestartKey(uint32_t i) const {
    const uint64_t offset = RestartPoint(i);
    const char* p = contents_.data() + offset;
    const char* limit = contents_.data() + restarts_offset_;
    uint64_t shared, unshared, value_size;
    if (!GetVarint(&p, limit, 32, &shared) || !GetVarint(&p, limit, 32, &unshared) ||
        !GetVarint(&p, limit, 32, &value_size)) {
      return where_.Error(absl::StrCat("bad varint in the entry at restart point ", i,
                                       " (block offset ", offset, ")"));
    }
    if (shared != 0) {
      return where_.Error(absl::StrCat("entry at restart point ", i, " (block offset ", offset,
                                       ") shares ", shared, " key bytes; restart entries share 0"));
    }
    if (unshared > static_cast<uint64_t>(limit - p)) {
      return where_.Error(absl::StrCat("key at restart point ", i, " (block offset ", offset,
                                       ") runs past the restart array"));
    }
    return std::string_view(p, unshared);
  }

  std::string_view contents_;
  BlockLocation where_;
  uint32_t restart_count_;
  uint64_t restarts_offset_;
  uint64_t next_ = 0;
  bool valid_ = false;
  std::string key_;
  std::string_view value_;
};

absl::StatusOr<std::pair<uint64_t, uint64_t>> DecodeHandle(std::string_view encoded) {
  const char* p = encoded.data();
  const char* limit = p + encoded.size();
  uint64_t offset, size;
  if (!GetVarint(&p, limit, 64, &offset) || !GetVarint(&p, limit, 64, &size)) {
    return absl::DataLossError("bad block handle varint");
  }
  return std::make_pair(offset, size);
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// TableReader

absl::StatusOr<TableReader> TableReader::Open(std::string file_name, std::string_view contents) {
  if (contents.size() < kFooterSize) {
    return absl::DataLossError(absl::StrCat(file_name, ": file is ", contents.size(),
                                            " bytes, shorter than the ", kFooterSize,
                                            "-byte table footer"));
  }
  const uint64_t data_end = contents.size() - kFooterSize;
  const char* footer = contents.data() + data_end;
  const uint64_t magic = DecodeFixed64(footer + kFooterSize - 8);
  if (magic != kTableMagic) {
    return absl::DataLossError(absl::StrFormat(
        "%s: bad magic number in the footer: expected 0x%016x, found 0x%016x; not a TensorFlow "
        "table (checkpoint index) file",
        file_name, kTableMagic, magic));
  }
  const char* p = footer;
  const char* limit = footer + 2 * kMaxHandleLength;
  uint64_t meta_offset, meta_size, index_offset, index_size;
  if (!GetVarint(&p, limit, 64, &meta_offset) || !GetVarint(&p, limit, 64, &meta_size) ||
      !GetVarint(&p, limit, 64, &index_offset) || !GetVarint(&p, limit, 64, &index_size)) {
    return absl::DataLossError(absl::StrCat(file_name, ": footer at offset ", data_end,
                                            ": bad varint in the block handles"));
  }
  TableReader reader(std::move(file_name), contents);
  reader.index_handle_ = {index_offset, index_size};
  // Reading the index block checks its range, checksum and structure once, up front.
  ASSIGN_OR_RETURN(Block index,
                   ReadBlock(reader.file_name_, contents, data_end, index_offset, index_size));
  const BlockLocation where{&reader.file_name_, index_offset, index_size};
  ASSIGN_OR_RETURN(BlockCursor cursor, BlockCursor::Create(index.contents(), where));
  RETURN_IF_ERROR(cursor.SeekToFirst());
  while (cursor.Valid()) {
    auto handle = DecodeHandle(cursor.value());
    if (!handle.ok()) {
      return where.Error(
          absl::StrCat("index entry ", QuoteKey(cursor.key()), ": ", handle.status().message()));
    }
    const auto [offset, size] = *handle;
    if (offset > data_end || size > data_end - offset ||
        data_end - offset - size < kBlockTrailerSize) {
      return where.Error(absl::StrCat(
          "index entry ", QuoteKey(cursor.key()), ": data block handle (offset ", offset, ", size ",
          size, ") extends past the end of the blocks (", data_end, " bytes before the footer)"));
    }
    RETURN_IF_ERROR(cursor.Next());
  }
  return reader;
}

absl::Status TableReader::ForEach(
    absl::FunctionRef<absl::Status(std::string_view key, std::string_view value)> fn) const {
  const uint64_t data_end = contents_.size() - kFooterSize;
  ASSIGN_OR_RETURN(Block index, ReadBlock(file_name_, contents_, data_end, index_handle_.offset,
                                          index_handle_.size));
  ASSIGN_OR_RETURN(BlockCursor index_cursor,
                   BlockCursor::Create(index.contents(),
                                       {&file_name_, index_handle_.offset, index_handle_.size}));
  std::string previous_key;
  bool first = true;
  RETURN_IF_ERROR(index_cursor.SeekToFirst());
  while (index_cursor.Valid()) {
    ASSIGN_OR_RETURN(auto handle, DecodeHandle(index_cursor.value()));
    const auto [offset, size] = handle;
    ASSIGN_OR_RETURN(Block block, ReadBlock(file_name_, contents_, data_end, offset, size));
    const BlockLocation where{&file_name_, offset, size};
    ASSIGN_OR_RETURN(BlockCursor cursor, BlockCursor::Create(block.contents(), where));
    RETURN_IF_ERROR(cursor.SeekToFirst());
    while (cursor.Valid()) {
      if (!first && cursor.key() <= previous_key) {
        return where.Error(absl::StrCat("key ", QuoteKey(cursor.key()),
                                        " is not greater than the previous key ",
                                        QuoteKey(previous_key)));
      }
      first = false;
      previous_key.assign(cursor.key());
      RETURN_IF_ERROR(fn(cursor.key(), cursor.value()));
      RETURN_IF_ERROR(cursor.Next());
    }
    RETURN_IF_ERROR(index_cursor.Next());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TableReader::Get(std::string_view key) const {
  const uint64_t data_end = contents_.size() - kFooterSize;
  ASSIGN_OR_RETURN(Block index, ReadBlock(file_name_, contents_, data_end, index_handle_.offset,
                                          index_handle_.size));
  ASSIGN_OR_RETURN(BlockCursor index_cursor,
                   BlockCursor::Create(index.contents(),
                                       {&file_name_, index_handle_.offset, index_handle_.size}));
  // The first block whose separator is >= key is the only one that can hold it.
  RETURN_IF_ERROR(index_cursor.Seek(key));
  if (index_cursor.Valid()) {
    ASSIGN_OR_RETURN(auto handle, DecodeHandle(index_cursor.value()));
    const auto [offset, size] = handle;
    ASSIGN_OR_RETURN(Block block, ReadBlock(file_name_, contents_, data_end, offset, size));
    ASSIGN_OR_RETURN(BlockCursor cursor,
                     BlockCursor::Create(block.contents(), {&file_name_, offset, size}));
    RETURN_IF_ERROR(cursor.Seek(key));
    if (cursor.Valid() && cursor.key() == key) return std::string(cursor.value());
  }
  return absl::NotFoundError(absl::StrCat(file_name_, ": key ", QuoteKey(key), " not found"));
}

absl::StatusOr<bool> TableReader::HasCompressedBlocks() const {
  const uint64_t data_end = contents_.size() - kFooterSize;
  ASSIGN_OR_RETURN(Block index, ReadBlock(file_name_, contents_, data_end, index_handle_.offset,
                                          index_handle_.size));
  if (index.compression != TableCompression::kNone) return true;
  ASSIGN_OR_RETURN(BlockCursor cursor,
                   BlockCursor::Create(index.contents(),
                                       {&file_name_, index_handle_.offset, index_handle_.size}));
  RETURN_IF_ERROR(cursor.SeekToFirst());
  while (cursor.Valid()) {
    ASSIGN_OR_RETURN(auto handle, DecodeHandle(cursor.value()));
    // Open checked that every handle plus its trailer lies inside the file.
    if (contents_[handle.first + handle.second] != 0) return true;
    RETURN_IF_ERROR(cursor.Next());
  }
  return false;
}

// ------------------------------------------------------------------------------------------------
// TableWriter

// Accumulates the entries of one block with prefix compression and restart points.
class TableWriter::BlockBuilder {
 public:
  explicit BlockBuilder(int restart_interval) : restart_interval_(restart_interval) {
    restarts_.push_back(0);
  }

  bool empty() const { return buffer_.empty(); }

  // Estimated contents size if the block were finished now, as TensorFlow estimates it.
  size_t SizeEstimate() const { return buffer_.size() + 4 * restarts_.size() + 4; }

  void Add(std::string_view key, std::string_view value) {
    size_t shared = 0;
    if (counter_ < restart_interval_) {
      const size_t limit = std::min(last_key_.size(), key.size());
      while (shared < limit && last_key_[shared] == key[shared]) ++shared;
    } else {
      restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
      counter_ = 0;
    }
    PutVarint64(&buffer_, shared);
    PutVarint64(&buffer_, key.size() - shared);
    PutVarint64(&buffer_, value.size());
    buffer_.append(key.substr(shared));
    buffer_.append(value);
    last_key_.assign(key);
    ++counter_;
  }

  // Appends the restart array and returns the contents; Reset() before reuse.
  std::string_view Finish() {
    for (uint32_t r : restarts_) PutFixed32(&buffer_, r);
    PutFixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
    return buffer_;
  }

  void Reset() {
    buffer_.clear();
    restarts_.assign(1, 0);
    counter_ = 0;
    last_key_.clear();
  }

 private:
  int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;
  std::string last_key_;
};

namespace {

// Shortens `start` to a key k with start <= k < limit when they differ at a byte that can be
// incremented without reaching limit's byte (TensorFlow's FindShortestSeparator).
void ShortenSeparator(std::string* start, std::string_view limit) {
  const size_t min_length = std::min(start->size(), limit.size());
  size_t diff = 0;
  while (diff < min_length && (*start)[diff] == limit[diff]) ++diff;
  if (diff >= min_length) return;  // One is a prefix of the other.
  const auto byte = static_cast<uint8_t>((*start)[diff]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[diff])) {
    (*start)[diff] = static_cast<char>(byte + 1);
    start->resize(diff + 1);
  }
}

// Shortens `key` to a short key >= key (TensorFlow's FindShortSuccessor).
void ShortSuccessor(std::string* key) {
  for (size_t i = 0; i < key->size(); ++i) {
    const auto byte = static_cast<uint8_t>((*key)[i]);
    if (byte != 0xff) {
      (*key)[i] = static_cast<char>(byte + 1);
      key->resize(i + 1);
      return;
    }
  }
}

}  // namespace

TableWriter::TableWriter(TableOptions options)
    : options_(options),
      data_block_(std::make_unique<BlockBuilder>(std::max(1, options.block_restart_interval))),
      index_block_(std::make_unique<BlockBuilder>(1)) {}

TableWriter::~TableWriter() = default;

absl::Status TableWriter::Add(std::string_view key, std::string_view value) {
  if (finished_) return absl::FailedPreconditionError("table writer: Add after Finish");
  if (entry_count_ > 0) {
    if (key <= std::string_view(last_key_)) {
      return absl::InvalidArgumentError(absl::StrCat("table writer: key ", QuoteKey(key),
                                                     " is not greater than the previous key ",
                                                     QuoteKey(last_key_)));
    }
    // An entry of twice the block size gets a block of its own.
    if (key.size() + value.size() >= 2 * options_.block_size) FlushDataBlock();
  }
  if (pending_index_entry_) {
    ShortenSeparator(&last_key_, key);
    std::string handle;
    PutVarint64(&handle, pending_offset_);
    PutVarint64(&handle, pending_size_);
    index_block_->Add(last_key_, handle);
    pending_index_entry_ = false;
  }
  last_key_.assign(key);
  ++entry_count_;
  data_block_->Add(key, value);
  if (data_block_->SizeEstimate() >= options_.block_size) FlushDataBlock();
  return absl::OkStatus();
}

void TableWriter::FlushDataBlock() {
  if (data_block_->empty()) return;
  WriteBlock(*data_block_, &pending_offset_, &pending_size_);
  pending_index_entry_ = true;
}

void TableWriter::WriteBlock(BlockBuilder& block, uint64_t* offset, uint64_t* size) {
  const std::string_view raw = block.Finish();
  std::string compressed;
  std::string_view contents = raw;
  char type = 0;
  if (options_.compression == TableCompression::kSnappy) {
    compressed = SnappyCompress(raw);
    if (compressed.size() < raw.size() - raw.size() / 8) {
      contents = compressed;
      type = 1;
    }
  }
  *offset = file_.size();
  *size = contents.size();
  file_.append(contents);
  uint32_t crc = crc32c::Value(contents);
  crc = crc32c::Extend(crc, &type, 1);
  file_.push_back(type);
  PutFixed32(&file_, crc32c::Mask(crc));
  block.Reset();
}

std::string TableWriter::Finish() {
  if (finished_) return {};
  FlushDataBlock();
  finished_ = true;
  uint64_t meta_offset, meta_size, index_offset, index_size;
  BlockBuilder metaindex(std::max(1, options_.block_restart_interval));
  WriteBlock(metaindex, &meta_offset, &meta_size);
  if (pending_index_entry_) {
    ShortSuccessor(&last_key_);
    std::string handle;
    PutVarint64(&handle, pending_offset_);
    PutVarint64(&handle, pending_size_);
    index_block_->Add(last_key_, handle);
    pending_index_entry_ = false;
  }
  WriteBlock(*index_block_, &index_offset, &index_size);
  std::string footer;
  PutVarint64(&footer, meta_offset);
  PutVarint64(&footer, meta_size);
  PutVarint64(&footer, index_offset);
  PutVarint64(&footer, index_size);
  footer.resize(2 * kMaxHandleLength, '\0');
  PutFixed32(&footer, static_cast<uint32_t>(kTableMagic & 0xffffffffu));
  PutFixed32(&footer, static_cast<uint32_t>(kTableMagic >> 32));
  file_.append(footer);
  return std::move(file_);
}

// ------------------------------------------------------------------------------------------------
// Snappy

std::string SnappyCompress(std::string_view input) {
  std::string out;
  out.reserve(32 + input.size() + input.size() / 6);
  PutVarint64(&out, input.size());
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  for (size_t done = 0; done < input.size();) {
    const size_t n = std::min(kSnappyFragmentSize, input.size() - done);
    CompressFragment(p + done, n, &out);
    done += n;
  }
  return out;
}

absl::StatusOr<std::string> SnappyUncompress(std::string_view input) {
  const char* p = input.data();
  const char* end = p + input.size();
  uint64_t length;
  if (!GetVarint(&p, end, 32, &length)) {
    return absl::DataLossError("snappy: bad varint for the uncompressed length");
  }
  // A 3-byte copy element expands to at most 64 bytes, the best ratio the format allows.
  if (length > 22 * static_cast<uint64_t>(input.size())) {
    return absl::DataLossError(absl::StrCat("snappy: declares ", length,
                                            " uncompressed bytes, more than ", input.size(),
                                            " compressed bytes can encode"));
  }
  std::string out(length, '\0');
  size_t op = 0;
  while (p < end) {
    const size_t tag_offset = static_cast<size_t>(p - input.data());
    const auto tag = static_cast<uint8_t>(*p++);
    const auto available = static_cast<size_t>(end - p);
    size_t copy_length = 0;
    size_t offset = 0;
    switch (tag & 3) {
      case 0: {
        size_t literal = (tag >> 2) + 1;
        if (literal > 60) {
          const size_t bytes = literal - 60;
          if (bytes > available) {
            return absl::DataLossError(
                absl::StrCat("snappy: literal length at offset ", tag_offset, " is truncated"));
          }
          uint64_t v = 0;
          for (size_t i = 0; i < bytes; ++i)
            v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
          p += bytes;
          literal = static_cast<size_t>(v) + 1;
        }
        if (literal > static_cast<size_t>(end - p) || literal > length - op) {
          return absl::DataLossError(absl::StrCat("snappy: literal of ", literal,
                                                  " bytes at offset ", tag_offset,
                                                  " runs past the end of the input or output"));
        }
        std::memcpy(out.data() + op, p, literal);
        p += literal;
        op += literal;
        continue;
      }
      case 1:
        if (available < 1) break;
        copy_length = ((tag >> 2) & 7) + 4;
        offset = (static_cast<size_t>(tag >> 5) << 8) | static_cast<uint8_t>(p[0]);
        p += 1;
        break;
      case 2:
        if (available < 2) break;
        copy_length = (tag >> 2) + 1;
        offset =
            static_cast<uint8_t>(p[0]) | (static_cast<size_t>(static_cast<uint8_t>(p[1])) << 8);
        p += 2;
        break;
      case 3:
        if (available < 4) break;
        copy_length = (tag >> 2) + 1;
        offset = DecodeFixed32(p);
        p += 4;
        break;
    }
    if (copy_length == 0) {
      return absl::DataLossError(
          absl::StrCat("snappy: copy element at offset ", tag_offset, " is truncated"));
    }
    if (offset == 0 || offset > op || copy_length > length - op) {
      return absl::DataLossError(absl::StrCat(
          "snappy: copy of ", copy_length, " bytes from ", offset, " bytes back at offset ",
          tag_offset, " is outside the output (", op, " of ", length, " bytes written)"));
    }
    char* dst = out.data() + op;
    const char* src = dst - offset;
    if (offset >= copy_length) {
      std::memcpy(dst, src, copy_length);
    } else {
      // Overlapping copies repeat the last `offset` bytes, so they go forward byte by byte.
      for (size_t i = 0; i < copy_length; ++i) dst[i] = src[i];
    }
    op += copy_length;
  }
  if (op != length) {
    return absl::DataLossError(
        absl::StrCat("snappy: produced ", op, " bytes, the header declares ", length));
  }
  return out;
}

}  // namespace savant::loader
