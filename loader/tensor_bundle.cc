#include "loader/tensor_bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "loader/crc32c.h"
#include "loader/mapped_file.h"

namespace savant::loader {

using engine::DataType;
using engine::Shape;
using engine::Tensor;

namespace {

// absl::StrCat takes absl::string_view, which is not std::string_view in every abseil build.
template <typename S>
absl::string_view Sv(const S& s) {
  return absl::string_view(s.data(), s.size());
}

// Versions of the bundle format (tensorflow/core/util/tensor_bundle/tensor_bundle.cc): writers
// record producer 1; a reader of version 1 accepts any producer >= 0 whose min_consumer <= 1.
constexpr int kBundleVersion = 1;
constexpr int kBundleMinProducer = 0;
constexpr int kBundleMinConsumer = 0;

// Far above any real checkpoint; keeps a corrupt header from making us probe millions of files.
constexpr int64_t kMaxShards = 1 << 20;
constexpr int kMaxRank = 254;

std::string Hex32(uint32_t v) { return absl::StrFormat("0x%08x", v); }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", u));
    }
  }
  if (s.size() > 200) out += "...";
  out += "\"";
  return out;
}

bool IsKnownDataType(int dtype) { return dtype >= 1 && dtype <= 23; }

// Alignment a view needs so that elements can be read through typed pointers.
size_t ElementAlignment(DataType dtype) {
  switch (dtype) {
    case DataType::kComplex64:
      return 4;
    case DataType::kComplex128:
      return 8;
    default:
      return engine::DataTypeSize(dtype);
  }
}

// ------------------------------------------------------------------------------------------------
// OrderedCode (tensorflow/core/lib/strings/ordered_code.cc), the encoding of slice keys.

void WriteNumIncreasing(std::string* out, uint64_t value) {
  char buf[9];
  int length = 0;
  for (uint64_t v = value; v > 0; v >>= 8) buf[8 - length++] = static_cast<char>(v & 0xff);
  out->push_back(static_cast<char>(length));
  out->append(buf + 9 - length, length);
}

bool ReadNumIncreasing(std::string_view* in, uint64_t* value) {
  if (in->empty()) return false;
  const size_t length = static_cast<uint8_t>((*in)[0]);
  if (length > 8 || length + 1 > in->size()) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < length; ++i) v = (v << 8) | static_cast<uint8_t>((*in)[1 + i]);
  *value = v;
  in->remove_prefix(length + 1);
  return true;
}

// Strings end with 00 01; a 00 byte is escaped as 00 ff and an ff byte as ff 00.
void WriteOrderedString(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
    if (c == '\xff') out->push_back('\0');
  }
  out->append("\0\1", 2);
}

bool ReadOrderedString(std::string_view* in, std::string* result) {
  result->clear();
  size_t i = 0;
  while (i + 1 < in->size()) {
    const char c = (*in)[i];
    if (c != '\0' && c != '\xff') {
      result->push_back(c);
      ++i;
      continue;
    }
    const char next = (*in)[i + 1];
    if (c == '\0' && next == '\1') {
      in->remove_prefix(i + 2);
      return true;
    }
    if (c == '\0' && next == '\xff') {
      result->push_back('\0');
    } else if (c == '\xff' && next == '\0') {
      result->push_back('\xff');
    } else {
      return false;
    }
    i += 2;
  }
  return false;
}

// Signed numbers: the leading bits, up to the first bit that differs from the sign bit, give the
// encoded length (1 to 10 bytes); the rest is the two's complement value, big-endian.
void WriteSignedNumIncreasing(std::string* out, int64_t value) {
  const uint64_t magnitude = value < 0 ? ~static_cast<uint64_t>(value) : value;
  const int bits = 64 - std::countl_zero(magnitude);
  const int length = bits / 7 + 1;
  char buf[10];
  const char sign = value < 0 ? '\xff' : '\0';
  buf[0] = buf[1] = sign;
  for (int i = 0; i < 8; ++i) {
    buf[2 + i] = static_cast<char>((static_cast<uint64_t>(value) >> (56 - 8 * i)) & 0xff);
  }
  char* begin = buf + 10 - length;
  // `length` one bits spread over the first two bytes.
  const uint16_t header = static_cast<uint16_t>(0xffffu << (16 - length));
  begin[0] = static_cast<char>(begin[0] ^ (header >> 8));
  if (length >= 2) begin[1] = static_cast<char>(begin[1] ^ (header & 0xff));
  out->append(begin, length);
}

bool ReadSignedNumIncreasing(std::string_view* in, int64_t* value) {
  if (in->empty()) return false;
  const uint64_t invert = (static_cast<uint8_t>((*in)[0]) & 0x80) ? 0 : ~uint64_t{0};
  const auto byte = [&](size_t i) { return static_cast<uint8_t>((*in)[i] ^ (invert & 0xff)); };
  size_t length;
  const uint8_t first = byte(0);
  if (first != 0xff) {
    length = static_cast<size_t>(std::countl_one(first));
  } else {
    if (in->size() < 2) return false;
    const uint8_t second = byte(1);
    if (second < 0x80) {
      length = 8;
    } else if (second < 0xc0) {
      length = 9;
    } else {
      if (in->size() < 3 || second != 0xc0 || byte(2) >= 0x80) return false;
      length = 10;
    }
  }
  if (in->size() < length) return false;
  // Sign-extend, then take the value bits that follow the length header.
  uint64_t x = invert;
  const size_t skip = length > 8 ? length - 8 : 0;
  for (size_t i = skip; i < length; ++i) x = (x << 8) | static_cast<uint8_t>((*in)[i]);
  const int header_bits = static_cast<int>(length) + 1;  // length ones and a delimiter bit
  const int value_bits = 8 * static_cast<int>(length) - header_bits;
  if (value_bits < 64) {
    // Replace the header bits with copies of the sign bit.
    const uint64_t low = x & ((uint64_t{1} << value_bits) - 1);
    const bool negative = invert != 0;
    x = negative ? (low | ~((uint64_t{1} << value_bits) - 1)) : low;
  }
  *value = static_cast<int64_t>(x);
  in->remove_prefix(length);
  return true;
}

// ------------------------------------------------------------------------------------------------
// Shapes and boxes

absl::Status ShapeFromProto(const tensorflow::TensorShapeProto& proto, Shape* shape) {
  if (proto.unknown_rank()) return absl::DataLossError("shape has unknown rank");
  if (proto.dim_size() > kMaxRank) {
    return absl::DataLossError(
        absl::StrCat("shape has rank ", proto.dim_size(), ", above ", kMaxRank));
  }
  int64_t elements = 1;
  Shape result;
  for (const auto& dim : proto.dim()) {
    if (dim.size() < 0) {
      return absl::DataLossError(absl::StrCat("shape has a negative dimension ", dim.size()));
    }
    if (__builtin_mul_overflow(elements, dim.size(), &elements)) {
      return absl::DataLossError("shape has more than 2^63 elements");
    }
    result.AddDim(dim.size());
  }
  *shape = std::move(result);
  return absl::OkStatus();
}

// Resolves `slice` against `full` into start and length per dimension.
absl::Status ResolveBox(const TensorSlice& slice, const Shape& full, std::vector<int64_t>* start,
                        std::vector<int64_t>* length) {
  if (slice.rank() != full.rank()) {
    return absl::InvalidArgumentError(absl::StrCat("slice ", slice.DebugString(), " has rank ",
                                                   slice.rank(), ", the tensor ",
                                                   full.DebugString(), " has rank ", full.rank()));
  }
  start->resize(full.rank());
  length->resize(full.rank());
  for (int d = 0; d < full.rank(); ++d) {
    const SliceExtent& e = slice.extents[d];
    int64_t s = e.start;
    int64_t l = e.length;
    if (l == SliceExtent::kFullExtent) {
      if (s != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("slice ", slice.DebugString(),
                         ": a full extent must start at 0, dimension ", d, " starts at ", s));
      }
      l = full.dim(d);
    }
    if (s < 0 || l < 0 || s > full.dim(d) || l > full.dim(d) - s) {
      return absl::InvalidArgumentError(absl::StrCat("slice ", slice.DebugString(),
                                                     " reaches outside the tensor ",
                                                     full.DebugString(), " in dimension ", d));
    }
    (*start)[d] = s;
    (*length)[d] = l;
  }
  return absl::OkStatus();
}

// Calls run(source_index, destination_index, count) for each contiguous run of elements when
// copying a box of `box` elements that starts at `src_start` in a row-major tensor of `src_dims`
// to `dst_start` in one of `dst_dims`.
template <typename Run>
void ForEachRun(std::span<const int64_t> box, std::span<const int64_t> src_dims,
                std::span<const int64_t> src_start, std::span<const int64_t> dst_dims,
                std::span<const int64_t> dst_start, Run run) {
  const size_t rank = box.size();
  for (int64_t b : box) {
    if (b == 0) return;
  }
  if (rank == 0) {
    run(0, 0, 1);
    return;
  }
  std::vector<int64_t> src_stride(rank, 1), dst_stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) {
    src_stride[d - 1] = src_stride[d] * src_dims[d];
    dst_stride[d - 1] = dst_stride[d] * dst_dims[d];
  }
  std::vector<int64_t> index(rank, 0);
  while (true) {
    int64_t s = 0, t = 0;
    for (size_t d = 0; d < rank; ++d) {
      s += (src_start[d] + index[d]) * src_stride[d];
      t += (dst_start[d] + index[d]) * dst_stride[d];
    }
    run(s, t, box[rank - 1]);
    // Odometer over every dimension but the last.
    int d = static_cast<int>(rank) - 2;
    for (; d >= 0; --d) {
      if (++index[d] < box[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Copies a box between two tensors of the same dtype.
void CopyBox(const Tensor& src, std::span<const int64_t> src_start, Tensor& dst,
             std::span<const int64_t> dst_start, std::span<const int64_t> box) {
  if (src.dtype() == DataType::kString) {
    const std::string* from = src.data<std::string>();
    std::string* to = dst.data<std::string>();
    ForEachRun(box, src.shape().dims(), src_start, dst.shape().dims(), dst_start,
               [&](int64_t s, int64_t t, int64_t n) {
                 for (int64_t k = 0; k < n; ++k) to[t + k] = from[s + k];
               });
    return;
  }
  const size_t element = engine::DataTypeSize(src.dtype());
  const char* from = static_cast<const char*>(src.raw_data());
  char* to = static_cast<char*>(dst.raw_data());
  ForEachRun(box, src.shape().dims(), src_start, dst.shape().dims(), dst_start,
             [&](int64_t s, int64_t t, int64_t n) {
               std::memcpy(to + t * element, from + s * element, n * element);
             });
}

bool BoxesOverlap(const std::vector<int64_t>& a_start, const std::vector<int64_t>& a_length,
                  const std::vector<int64_t>& b_start, const std::vector<int64_t>& b_length) {
  for (size_t d = 0; d < a_start.size(); ++d) {
    if (a_length[d] == 0 || b_length[d] == 0) return false;
    if (a_start[d] >= b_start[d] + b_length[d] || b_start[d] >= a_start[d] + a_length[d]) {
      return false;
    }
  }
  return true;
}

// Reads a varint64 from [*p, end); false when truncated or longer than 10 bytes.
bool GetVarint64(const uint8_t** p, const uint8_t* end, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *p < end; shift += 7) {
    const uint64_t byte = *(*p)++;
    if (shift == 63 && (byte & 0x7e) != 0) return false;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint32_t DecodeFixed32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void AppendFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// String tensors store each length as a varint64, but their checksum covers each length as a
// fixed32 (or fixed64 when it does not fit), as TensorFlow's first format did.
uint32_t ExtendWithLength(uint32_t crc, uint64_t length) {
  char buf[8];
  if (length <= UINT32_MAX) {
    for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    return crc32c::Extend(crc, buf, 4);
  }
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return crc32c::Extend(crc, buf, 8);
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// TensorSlice and names

bool TensorSlice::IsFull() const {
  return std::all_of(extents.begin(), extents.end(),
                     [](const SliceExtent& e) { return e.IsFull(); });
}

absl::StatusOr<Shape> TensorSlice::SliceShape(const Shape& full_shape) const {
  std::vector<int64_t> start, length;
  RETURN_IF_ERROR(ResolveBox(*this, full_shape, &start, &length));
  return Shape(std::span<const int64_t>(length));
}

std::string TensorSlice::DebugString() const {
  return absl::StrJoin(extents, ":", [](std::string* out, const SliceExtent& e) {
    if (e.IsFull()) {
      out->append("-");
    } else {
      absl::StrAppend(out, e.start, ",", e.length);
    }
  });
}

std::string EncodeTensorNameSlice(std::string_view name, const TensorSlice& slice) {
  std::string key;
  WriteNumIncreasing(&key, 0);
  WriteOrderedString(&key, name);
  WriteNumIncreasing(&key, static_cast<uint64_t>(slice.rank()));
  for (const SliceExtent& e : slice.extents) {
    WriteSignedNumIncreasing(&key, e.start);
    WriteSignedNumIncreasing(&key, e.length);
  }
  return key;
}

absl::StatusOr<std::pair<std::string, TensorSlice>> DecodeTensorNameSlice(std::string_view key) {
  const auto error = [key](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("slice key ", Quote(key), ": ", what));
  };
  std::string_view in = key;
  uint64_t leading, rank;
  std::string name;
  if (!ReadNumIncreasing(&in, &leading) || leading != 0) return error("does not start with 0");
  if (!ReadOrderedString(&in, &name)) return error("bad tensor name");
  if (!ReadNumIncreasing(&in, &rank) || rank == 0 || rank > kMaxRank) return error("bad rank");
  TensorSlice slice;
  for (uint64_t d = 0; d < rank; ++d) {
    SliceExtent e;
    if (!ReadSignedNumIncreasing(&in, &e.start) || !ReadSignedNumIncreasing(&in, &e.length)) {
      return error(absl::StrCat("bad extent ", d));
    }
    if (e.length < 0) e = SliceExtent{};
    slice.extents.push_back(e);
  }
  if (!in.empty()) return error("has trailing bytes");
  return std::make_pair(std::move(name), std::move(slice));
}

std::string BundleIndexFilename(std::string_view prefix) {
  return absl::StrCat(Sv(prefix), ".index");
}

std::string BundleDataFilename(std::string_view prefix, int shard, int num_shards) {
  return absl::StrFormat("%s.data-%05d-of-%05d", prefix, shard, num_shards);
}

// ------------------------------------------------------------------------------------------------
// BundleReader

BundleReader::~BundleReader() = default;

absl::StatusOr<std::unique_ptr<BundleReader>> BundleReader::Open(const std::string& prefix) {
  std::string index_name = BundleIndexFilename(prefix);
  ASSIGN_OR_RETURN(const std::string index, ReadFileToString(index_name));
  return Create(prefix, std::move(index_name), index, {}, /*open_files=*/true);
}

absl::StatusOr<std::unique_ptr<BundleReader>> BundleReader::OpenFromMemory(
    std::string index, std::vector<std::string> data_shards, std::string prefix) {
  std::vector<Shard> shards;
  for (size_t i = 0; i < data_shards.size(); ++i) {
    auto owned = std::make_shared<const std::string>(std::move(data_shards[i]));
    Shard shard;
    shard.file_name =
        BundleDataFilename(prefix, static_cast<int>(i), static_cast<int>(data_shards.size()));
    shard.contents = *owned;
    shard.keep_alive = std::move(owned);
    shards.push_back(std::move(shard));
  }
  return Create(prefix, BundleIndexFilename(prefix), index, std::move(shards),
                /*open_files=*/false);
}

absl::StatusOr<std::unique_ptr<BundleReader>> BundleReader::Create(std::string prefix,
                                                                   std::string index_file_name,
                                                                   std::string_view index,
                                                                   std::vector<Shard> shards,
                                                                   bool open_files) {
  if constexpr (std::endian::native != std::endian::little) {
    return absl::UnimplementedError("tensor bundles are only read on little-endian machines");
  }
  std::unique_ptr<BundleReader> reader(new BundleReader());
  reader->prefix_ = std::move(prefix);
  reader->index_file_name_ = std::move(index_file_name);
  reader->shards_ = std::move(shards);
  // The parsed entries own copies of what they need; the index bytes are not kept.
  RETURN_IF_ERROR(reader->ParseIndex(index, open_files));
  return reader;
}

absl::Status BundleReader::ParseIndex(std::string_view index, bool open_files) {
  ASSIGN_OR_RETURN(TableReader table, TableReader::Open(index_file_name_, index));
  ASSIGN_OR_RETURN(index_compressed_, table.HasCompressedBlocks());
  std::vector<std::pair<std::string, std::string>> raw;
  RETURN_IF_ERROR(table.ForEach([&raw](std::string_view key, std::string_view value) {
    raw.emplace_back(key, value);
    return absl::OkStatus();
  }));
  // The header is the empty key, which sorts first.
  if (raw.empty() || !raw.front().first.empty()) {
    return absl::DataLossError(
        absl::StrCat(index_file_name_, ": no header entry (the empty key) in the index"));
  }
  tensorflow::BundleHeaderProto header;
  if (!header.ParseFromString(raw.front().second)) {
    return absl::DataLossError(
        absl::StrCat(index_file_name_, ": header entry is not a valid BundleHeaderProto"));
  }
  if (header.endianness() == tensorflow::BundleHeaderProto::BIG) {
    return absl::UnimplementedError(absl::StrCat(
        index_file_name_,
        ": the bundle was written on a big-endian machine; byte-swapping its tensors is not "
        "supported"));
  }
  if (header.endianness() != tensorflow::BundleHeaderProto::LITTLE) {
    return absl::DataLossError(absl::StrCat(index_file_name_, ": unknown endianness ",
                                            static_cast<int>(header.endianness())));
  }
  const auto& version = header.version();
  if (version.producer() < kBundleMinProducer) {
    return absl::InvalidArgumentError(absl::StrCat(index_file_name_, ": format producer version ",
                                                   version.producer(), " is below the minimum ",
                                                   kBundleMinProducer, " this reader supports"));
  }
  if (version.min_consumer() > kBundleVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_file_name_, ": the bundle needs a reader of format version ",
                     version.min_consumer(), " or later; this reader is version ", kBundleVersion));
  }
  for (int bad : version.bad_consumers()) {
    if (bad == kBundleVersion) {
      return absl::InvalidArgumentError(absl::StrCat(
          index_file_name_, ": the bundle disallows readers of format version ", kBundleVersion));
    }
  }
  if (header.num_shards() < 1 || header.num_shards() > kMaxShards) {
    return absl::DataLossError(absl::StrCat(index_file_name_, ": header has ", header.num_shards(),
                                            " data shards, expected 1 to ", kMaxShards));
  }
  const int num_shards = header.num_shards();
  if (open_files) {
    shards_.clear();
    for (int i = 0; i < num_shards; ++i) {
      Shard shard;
      shard.file_name = BundleDataFilename(prefix_, i, num_shards);
      ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(shard.file_name));
      shard.contents = file->contents();
      shard.file = file.get();
      shard.keep_alive = std::move(file);
      shards_.push_back(std::move(shard));
    }
  } else if (static_cast<int>(shards_.size()) != num_shards) {
    return absl::InvalidArgumentError(absl::StrCat(index_file_name_, ": header has ", num_shards,
                                                   " data shards, ", shards_.size(),
                                                   " were provided"));
  }

  entries_.reserve(raw.size() - 1);
  for (size_t i = 1; i < raw.size(); ++i) RETURN_IF_ERROR(AddEntry(raw[i].first, raw[i].second));
  for (const BundleEntry& entry : entries_) RETURN_IF_ERROR(CheckEntry(entry));
  return absl::OkStatus();
}

absl::Status BundleReader::AddEntry(std::string_view key, std::string_view value) {
  tensorflow::BundleEntryProto proto;
  const auto error = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(index_file_name_, ": entry ", Quote(key), ": ", what));
  };
  if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size())))
    return error("not a valid BundleEntryProto");
  BundleEntry entry;
  entry.name = std::string(key);
  if (!IsKnownDataType(proto.dtype())) {
    return error(absl::StrCat("unknown dtype ", static_cast<int>(proto.dtype())));
  }
  entry.dtype = static_cast<DataType>(proto.dtype());
  absl::Status shape_status = ShapeFromProto(proto.shape(), &entry.shape);
  if (!shape_status.ok()) return error(shape_status.message());
  entry.shard_id = proto.shard_id();
  entry.offset = proto.offset();
  entry.size = proto.size();
  entry.crc32c = crc32c::Unmask(proto.crc32c());
  for (const auto& slice_proto : proto.slices()) {
    TensorSlice slice;
    for (const auto& extent : slice_proto.extent()) {
      SliceExtent e;
      e.start = extent.start();
      if (extent.has_length_case() == tensorflow::TensorSliceProto::Extent::kLength) {
        e.length = extent.length();
      }
      slice.extents.push_back(e);
    }
    if (slice.rank() != entry.shape.rank()) {
      return error(absl::StrCat("slice ", slice.DebugString(), " has rank ", slice.rank(),
                                ", the tensor ", entry.shape.DebugString(), " has rank ",
                                entry.shape.rank()));
    }
    entry.slices.push_back(std::move(slice));
  }
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status BundleReader::CheckEntry(const BundleEntry& entry) const {
  const auto error = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(index_file_name_, ": entry ", Quote(entry.name), ": ", what));
  };
  if (!entry.slices.empty()) {
    if (entry.slices.size() > entries_.size()) {
      return error(absl::StrCat("lists ", entry.slices.size(), " slices, more than the ",
                                entries_.size(), " entries of the index"));
    }
    return absl::OkStatus();
  }
  if (entry.shard_id < 0 || entry.shard_id >= num_shards()) {
    return error(absl::StrCat("shard id ", entry.shard_id, " out of range: the bundle has ",
                              num_shards(), " shards"));
  }
  if (entry.offset < 0 || entry.size < 0) {
    return error(absl::StrCat("negative offset ", entry.offset, " or size ", entry.size));
  }
  const Shard& shard = shards_[entry.shard_id];
  const uint64_t file_size = shard.contents.size();
  if (static_cast<uint64_t>(entry.offset) > file_size ||
      static_cast<uint64_t>(entry.size) > file_size - entry.offset) {
    return absl::DataLossError(
        absl::StrCat(Where(entry), ": runs past the end of the file (", file_size, " bytes)"));
  }
  const int64_t elements = entry.shape.num_elements();
  if (engine::IsPodType(entry.dtype)) {
    uint64_t expected = 0;
    const bool overflow = __builtin_mul_overflow(static_cast<uint64_t>(elements),
                                                 engine::DataTypeSize(entry.dtype), &expected);
    if (overflow || static_cast<uint64_t>(entry.size) != expected) {
      return absl::DataLossError(absl::StrCat(
          Where(entry), ": size does not match ", Sv(engine::DataTypeName(entry.dtype)), " ",
          entry.shape.DebugString(), ", which needs ",
          overflow ? std::string("more than 2^64") : absl::StrCat(expected), " bytes"));
    }
  } else if (entry.dtype == DataType::kString) {
    // At least one varint byte per element, plus the 4-byte checksum of the lengths.
    if (!(elements == 0 && entry.size == 0) && entry.size - 4 < elements) {
      return absl::DataLossError(
          absl::StrCat(Where(entry), ": too small for ", elements,
                       " strings, which need at least one length byte each and a 4-byte checksum"));
    }
  }
  return absl::OkStatus();
}

std::string BundleReader::Where(const BundleEntry& entry) const {
  const std::string& file = entry.shard_id >= 0 && entry.shard_id < num_shards()
                                ? shards_[entry.shard_id].file_name
                                : index_file_name_;
  return absl::StrCat(file, ": tensor ", Quote(entry.name), " at offset ", entry.offset, " size ",
                      entry.size);
}

absl::StatusOr<const BundleEntry*> BundleReader::FindEntry(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const BundleEntry& e, std::string_view n) { return e.name < n; });
  if (it == entries_.end() || it->name != name) {
    return absl::NotFoundError(absl::StrCat(index_file_name_, ": no tensor named ", Quote(name)));
  }
  return &*it;
}

absl::StatusOr<Tensor> BundleReader::Lookup(std::string_view name) const {
  ASSIGN_OR_RETURN(const BundleEntry* entry, FindEntry(name));
  if (!entry->slices.empty()) return Assemble(*entry);
  return ReadStored(*entry);
}

absl::StatusOr<Tensor> BundleReader::ReadStored(const BundleEntry& entry) const {
  // CheckEntry validated the shard, the byte range and the size for the dtype at Open.
  const Shard& shard = shards_[entry.shard_id];
  const std::string_view bytes = shard.contents.substr(entry.offset, entry.size);
  // Mapping the tensor's pages in one call is cheaper than faulting them in one by one while
  // the checksum reads them.
  if (shard.file != nullptr) shard.file->Populate(entry.offset, entry.size);
  if (entry.dtype == DataType::kString) return ReadStrings(entry, bytes);
  if (!engine::IsPodType(entry.dtype)) {
    return absl::UnimplementedError(absl::StrCat(
        Where(entry), ": ", Sv(engine::DataTypeName(entry.dtype)), " tensors are not supported"));
  }
  const uint32_t actual = crc32c::Value(bytes);
  if (actual != entry.crc32c) {
    return absl::DataLossError(absl::StrCat(Where(entry), ": checksum mismatch: expected ",
                                            Hex32(entry.crc32c), ", found ", Hex32(actual)));
  }
  if (entry.dtype == DataType::kBool) {
    for (char c : bytes) {
      if (c != 0 && c != 1) {
        return absl::DataLossError(absl::StrCat(Where(entry), ": bool element is neither 0 nor 1"));
      }
    }
  }
  const auto address = reinterpret_cast<uintptr_t>(bytes.data());
  if (address % ElementAlignment(entry.dtype) == 0) {
    return Tensor::View(entry.dtype, entry.shape, bytes.data(), shard.keep_alive);
  }
  Tensor copy(entry.dtype, entry.shape);
  if (!bytes.empty()) std::memcpy(copy.raw_data(), bytes.data(), bytes.size());
  return copy;
}

absl::StatusOr<Tensor> BundleReader::ReadStrings(const BundleEntry& entry,
                                                 std::string_view bytes) const {
  const auto elements = static_cast<size_t>(entry.shape.num_elements());
  if (elements == 0 && bytes.empty()) return Tensor(DataType::kString, entry.shape);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* end = p + bytes.size();
  // CheckEntry guaranteed at least one byte per element, so this allocation is bounded by the file.
  std::vector<uint64_t> lengths(elements);
  uint32_t crc = 0;
  for (size_t i = 0; i < elements; ++i) {
    if (!GetVarint64(&p, end, &lengths[i])) {
      return absl::DataLossError(absl::StrCat(
          Where(entry), ": bad varint for the length of string ", i, " of ", elements));
    }
    crc = ExtendWithLength(crc, lengths[i]);
  }
  if (end - p < 4) {
    return absl::DataLossError(
        absl::StrCat(Where(entry), ": string lengths leave no room for their checksum"));
  }
  const uint32_t stored = DecodeFixed32(p);
  if (crc32c::Unmask(stored) != crc) {
    return absl::DataLossError(absl::StrCat(Where(entry),
                                            ": checksum of the string lengths mismatch: expected ",
                                            Hex32(crc32c::Unmask(stored)), ", found ", Hex32(crc)));
  }
  crc = crc32c::Extend(crc, p, 4);
  p += 4;
  const auto remaining = static_cast<uint64_t>(end - p);
  uint64_t total = 0;
  for (uint64_t length : lengths) {
    if (__builtin_add_overflow(total, length, &total)) total = UINT64_MAX;
  }
  if (total != remaining) {
    return absl::DataLossError(absl::StrCat(Where(entry), ": string lengths add up to ", total,
                                            " bytes, but ", remaining, " bytes follow them"));
  }
  crc = crc32c::Extend(crc, p, remaining);
  if (crc != entry.crc32c) {
    return absl::DataLossError(absl::StrCat(Where(entry), ": checksum mismatch: expected ",
                                            Hex32(entry.crc32c), ", found ", Hex32(crc)));
  }
  Tensor result(DataType::kString, entry.shape);
  std::string* out = result.data<std::string>();
  for (size_t i = 0; i < elements; ++i) {
    out[i].assign(reinterpret_cast<const char*>(p), lengths[i]);
    p += lengths[i];
  }
  return result;
}

absl::StatusOr<Tensor> BundleReader::Assemble(const BundleEntry& entry) const {
  const auto error = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(index_file_name_, ": partitioned tensor ",
                                            Quote(entry.name), " ", entry.shape.DebugString(), ": ",
                                            what));
  };
  if (!engine::IsPodType(entry.dtype)) {
    return absl::UnimplementedError(
        absl::StrCat(index_file_name_, ": partitioned tensor ", Quote(entry.name), ": partitioned ",
                     Sv(engine::DataTypeName(entry.dtype)), " tensors are not supported"));
  }
  const size_t count = entry.slices.size();
  std::vector<std::vector<int64_t>> starts(count), lengths(count);
  std::vector<const BundleEntry*> stored(count);
  int64_t covered = 0;
  for (size_t i = 0; i < count; ++i) {
    const TensorSlice& slice = entry.slices[i];
    absl::Status box = ResolveBox(slice, entry.shape, &starts[i], &lengths[i]);
    if (!box.ok()) return error(box.message());
    const std::string key = EncodeTensorNameSlice(entry.name, slice);
    auto found = FindEntry(key);
    if (!found.ok()) return error(absl::StrCat("slice ", slice.DebugString(), " has no entry"));
    stored[i] = *found;
    const Shape box_shape{std::span<const int64_t>(lengths[i])};
    if (stored[i]->dtype != entry.dtype || stored[i]->shape != box_shape ||
        !stored[i]->slices.empty()) {
      return error(absl::StrCat(
          "slice ", slice.DebugString(), " is stored as ",
          Sv(engine::DataTypeName(stored[i]->dtype)), " ", stored[i]->shape.DebugString(),
          ", expected ", Sv(engine::DataTypeName(entry.dtype)), " ", box_shape.DebugString()));
    }
    // The stored entry's bytes lie inside its shard, so this sum is bounded by the file sizes.
    covered += box_shape.num_elements();
    for (size_t j = 0; j < i; ++j) {
      if (BoxesOverlap(starts[i], lengths[i], starts[j], lengths[j])) {
        return error(absl::StrCat("slices ", entry.slices[j].DebugString(), " and ",
                                  slice.DebugString(), " overlap"));
      }
    }
  }
  if (covered != entry.shape.num_elements()) {
    return error(absl::StrCat("the slices cover ", covered, " of ", entry.shape.num_elements(),
                              " elements"));
  }
  Tensor full(entry.dtype, entry.shape);
  const std::vector<int64_t> origin(entry.shape.rank(), 0);
  for (size_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(Tensor part, ReadStored(*stored[i]));
    CopyBox(part, origin, full, starts[i], lengths[i]);
  }
  return full;
}

absl::StatusOr<Tensor> BundleReader::LookupSlice(std::string_view name,
                                                 const TensorSlice& slice) const {
  ASSIGN_OR_RETURN(const BundleEntry* entry, FindEntry(name));
  std::vector<int64_t> start, length;
  RETURN_IF_ERROR_CTX(ResolveBox(slice, entry->shape, &start, &length),
                      absl::StrCat(index_file_name_, ": tensor ", Quote(name)));
  const Shape box_shape{std::span<const int64_t>(length)};
  ASSIGN_OR_RETURN(Tensor whole, Lookup(name));
  if (box_shape == entry->shape) return whole;
  Tensor part(entry->dtype, box_shape);
  const std::vector<int64_t> origin(box_shape.rank(), 0);
  CopyBox(whole, start, part, origin, length);
  return part;
}

// ------------------------------------------------------------------------------------------------
// BundleWriter

namespace {

absl::Status IoError(absl::string_view path, absl::string_view action) {
  const int error = errno;
  std::string message = absl::StrCat("\"", path, "\": ", action, ": ", std::strerror(error));
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  if (error == ENOENT) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

absl::Status WriteAll(int fd, std::string_view bytes, absl::string_view path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(path, "cannot write");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string TempSuffix() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return absl::StrFormat(".tempstate%016x", random());
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  const std::string temp = path + TempSuffix();
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(temp, "cannot create");
  absl::Status status = WriteAll(fd, contents, temp);
  if (::close(fd) != 0 && status.ok()) status = IoError(temp, "cannot close");
  if (status.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    status = IoError(path, "cannot rename the temporary file into place");
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

}  // namespace

// The data shard under its temporary name, written through an 8 MiB buffer as TensorFlow does.
class BundleWriter::DataFile {
 public:
  static constexpr size_t kBufferSize = 8 << 20;

  static absl::StatusOr<std::unique_ptr<DataFile>> Create(std::string final_path) {
    std::string temp = final_path + TempSuffix();
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError(temp, "cannot create");
    return std::unique_ptr<DataFile>(new DataFile(fd, std::move(temp), std::move(final_path)));
  }

  ~DataFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temp_path_.c_str());
    }
  }

  absl::Status Append(std::string_view bytes) {
    if (buffer_.size() + bytes.size() > kBufferSize) {
      RETURN_IF_ERROR(Flush());
      if (bytes.size() >= kBufferSize) return WriteAll(fd_, bytes, temp_path_);
    }
    buffer_.append(bytes);
    return absl::OkStatus();
  }

  // Flushes, closes and renames the file to its final name.
  absl::Status Commit() {
    RETURN_IF_ERROR(Flush());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      absl::Status status = IoError(temp_path_, "cannot close");
      ::unlink(temp_path_.c_str());
      return status;
    }
    if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      absl::Status status = IoError(final_path_, "cannot rename the temporary file into place");
      ::unlink(temp_path_.c_str());
      return status;
    }
    return absl::OkStatus();
  }

 private:
  DataFile(int fd, std::string temp_path, std::string final_path)
      : fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {
    buffer_.reserve(kBufferSize);
  }

  absl::Status Flush() {
    absl::Status status = WriteAll(fd_, buffer_, temp_path_);
    buffer_.clear();
    return status;
  }

  int fd_;
  std::string temp_path_;
  std::string final_path_;
  std::string buffer_;
};

BundleWriter::BundleWriter(Options options, bool in_memory)
    : options_(options), in_memory_(in_memory) {
  if (options_.data_alignment < 1) {
    status_ = absl::InvalidArgumentError(absl::StrCat(
        "bundle writer: data_alignment must be at least 1, got ", options_.data_alignment));
  }
}

BundleWriter::BundleWriter(std::string prefix, Options options) : BundleWriter(options, false) {
  prefix_ = std::move(prefix);
  if (!status_.ok()) return;
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(prefix_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    status_ = absl::InternalError(
        absl::StrCat("\"", dir.string(), "\": cannot create directory: ", ec.message()));
    return;
  }
  auto file = DataFile::Create(BundleDataFilename(prefix_, 0, 1));
  if (!file.ok()) {
    status_ = file.status();
    return;
  }
  data_file_ = std::move(*file);
}

std::unique_ptr<BundleWriter> BundleWriter::InMemory(Options options) {
  return std::unique_ptr<BundleWriter>(new BundleWriter(options, true));
}

BundleWriter::~BundleWriter() = default;

absl::Status BundleWriter::Append(std::string_view bytes) {
  if (in_memory_) {
    data_bytes_.append(bytes);
    return absl::OkStatus();
  }
  return data_file_->Append(bytes);
}

absl::Status BundleWriter::Add(std::string_view name, const Tensor& tensor) {
  RETURN_IF_ERROR(status_);
  if (finished_) return absl::FailedPreconditionError("bundle writer: Add after Finish");
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "bundle writer: a tensor cannot be named \"\", the key of the bundle header");
  }
  if (entries_.contains(std::string(name))) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle writer: tensor ", Quote(name), " was already added"));
  }
  if (!tensor.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle writer: tensor ", Quote(name), " is invalid (no dtype)"));
  }
  const DataType dtype = tensor.dtype();
  if (dtype != DataType::kString && !engine::IsPodType(dtype)) {
    return absl::UnimplementedError(absl::StrCat("bundle writer: tensor ", Quote(name), ": ",
                                                 Sv(engine::DataTypeName(dtype)),
                                                 " tensors cannot be written"));
  }
  tensorflow::BundleEntryProto entry;
  entry.set_dtype(static_cast<tensorflow::DataType>(dtype));
  auto* shape = entry.mutable_shape();
  for (int64_t d : tensor.shape().dims()) shape->add_dim()->set_size(d);
  entry.set_shard_id(0);
  entry.set_offset(size_);

  uint32_t crc = 0;
  int64_t written = 0;
  absl::Status status;
  if (dtype == DataType::kString) {
    const std::string* strings = tensor.data<std::string>();
    const auto count = static_cast<size_t>(tensor.num_elements());
    std::string lengths;
    lengths.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      PutVarint64(&lengths, strings[i].size());
      crc = ExtendWithLength(crc, strings[i].size());
    }
    std::string length_checksum;
    AppendFixed32(&length_checksum, crc32c::Mask(crc));
    crc = crc32c::Extend(crc, length_checksum.data(), 4);
    status = Append(lengths);
    if (status.ok()) status = Append(length_checksum);
    written = static_cast<int64_t>(lengths.size() + 4);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      status = Append(strings[i]);
      crc = crc32c::Extend(crc, strings[i].data(), strings[i].size());
      written += static_cast<int64_t>(strings[i].size());
    }
  } else {
    const std::string_view bytes(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
    crc = crc32c::Value(bytes);
    status = Append(bytes);
    written = static_cast<int64_t>(bytes.size());
  }
  if (status.ok() && options_.data_alignment > 1) {
    const int64_t over = (size_ + written) % options_.data_alignment;
    if (over != 0) status = Append(std::string(options_.data_alignment - over, '\0'));
    if (over != 0) size_ += options_.data_alignment - over;
  }
  if (!status.ok()) {
    status_ = status;
    return status_;
  }
  entry.set_size(written);
  entry.set_crc32c(crc32c::Mask(crc));
  size_ += written;
  entries_.emplace(std::string(name), std::move(entry));
  return absl::OkStatus();
}

absl::Status BundleWriter::AddSlice(std::string_view name, const Shape& full_shape,
                                    const TensorSlice& slice, const Tensor& tensor) {
  RETURN_IF_ERROR(status_);
  const std::string context = absl::StrCat("bundle writer: partitioned tensor ", Quote(name));
  std::vector<int64_t> start, length;
  RETURN_IF_ERROR_CTX(ResolveBox(slice, full_shape, &start, &length), context);
  const Shape slice_shape{std::span<const int64_t>(length)};
  if (slice.IsFull() || slice_shape == full_shape) return Add(name, tensor);
  if (tensor.shape() != slice_shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": slice ", slice.DebugString(), " has shape ", slice_shape.DebugString(),
        ", the tensor has shape ", tensor.shape().DebugString()));
  }
  auto it = entries_.find(std::string(name));
  if (it != entries_.end()) {
    const tensorflow::BundleEntryProto& full = it->second;
    Shape existing;
    RETURN_IF_ERROR(ShapeFromProto(full.shape(), &existing));
    if (full.slices_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": was added whole before"));
    }
    if (full.dtype() != static_cast<tensorflow::DataType>(tensor.dtype()) ||
        existing != full_shape) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": earlier slices were ",
                       Sv(engine::DataTypeName(static_cast<DataType>(full.dtype()))), " ",
                       existing.DebugString(), ", this one is ",
                       Sv(engine::DataTypeName(tensor.dtype())), " ", full_shape.DebugString()));
    }
  }
  const std::string key = EncodeTensorNameSlice(name, slice);
  if (entries_.contains(key)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": slice ", slice.DebugString(), " was already added"));
  }
  RETURN_IF_ERROR(Add(key, tensor));
  tensorflow::BundleEntryProto& full = entries_[std::string(name)];
  full.set_dtype(static_cast<tensorflow::DataType>(tensor.dtype()));
  auto* shape = full.mutable_shape();
  shape->Clear();
  for (int64_t d : full_shape.dims()) shape->add_dim()->set_size(d);
  auto* slice_proto = full.add_slices();
  for (const SliceExtent& e : slice.extents) {
    auto* extent = slice_proto->add_extent();
    // As TensorSlice::AsProto: full extents are left empty.
    if (!e.IsFull()) {
      extent->set_start(e.start);
      extent->set_length(e.length);
    }
  }
  return absl::OkStatus();
}

absl::Status BundleWriter::Finish() {
  RETURN_IF_ERROR(status_);
  if (finished_) return absl::FailedPreconditionError("bundle writer: Finish called twice");
  finished_ = true;
  if (!in_memory_) {
    absl::Status committed = data_file_->Commit();
    data_file_.reset();
    if (!committed.ok()) {
      status_ = committed;
      return status_;
    }
  }
  TableOptions table_options;
  table_options.compression = options_.index_compression;
  TableWriter table(table_options);
  tensorflow::BundleHeaderProto header;
  header.set_num_shards(1);
  header.set_endianness(tensorflow::BundleHeaderProto::LITTLE);
  header.mutable_version()->set_producer(kBundleVersion);
  header.mutable_version()->set_min_consumer(kBundleMinConsumer);
  absl::Status status = table.Add("", header.SerializeAsString());
  for (const auto& [name, entry] : entries_) {
    if (!status.ok()) break;
    status = table.Add(name, entry.SerializeAsString());
  }
  if (status.ok()) {
    index_bytes_ = table.Finish();
    if (!in_memory_) status = WriteFileAtomically(BundleIndexFilename(prefix_), index_bytes_);
  }
  status_ = status.ok() ? absl::FailedPreconditionError("bundle writer: already finished") : status;
  return status;
}

}  // namespace savant::loader
