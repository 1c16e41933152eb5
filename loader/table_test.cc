#include "loader/table.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/crc32c.h"
#include "loader/mapped_file.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

using ::testing::HasSubstr;

std::string Fixed32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// A block as the file stores it: contents, type byte, masked CRC-32C of both.
std::string BlockWithTrailer(const std::string& contents, char type = 0) {
  std::string with_type = contents + type;
  return with_type + Fixed32(crc32c::Mask(crc32c::Value(with_type)));
}

std::string Footer(uint64_t meta_offset, uint64_t meta_size, uint64_t index_offset,
                   uint64_t index_size) {
  std::string footer;
  for (uint64_t v : {meta_offset, meta_size, index_offset, index_size}) {
    while (v >= 0x80) {
      footer.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    footer.push_back(static_cast<char>(v));
  }
  footer.resize(40, '\0');
  return footer + Fixed32(0x8b80fb57u) + Fixed32(0xdb477524u);
}

// A table whose only data block has the given raw contents (built by hand from the format, so
// that corrupt contents can be wrapped in valid checksums).
std::string TableWithDataBlock(const std::string& contents) {
  std::string file = BlockWithTrailer(contents);
  const uint64_t meta_offset = file.size();
  const std::string meta = std::string("\0\0\0\0\1\0\0\0", 8);
  file += BlockWithTrailer(meta);
  const uint64_t index_offset = file.size();
  // One index entry, separator "\xff", pointing at the data block.
  std::string index_entry = std::string("\0\1\2\xff", 4);
  index_entry.push_back(0);
  index_entry.push_back(static_cast<char>(contents.size()));
  const std::string index = index_entry + Fixed32(0) + Fixed32(1);
  file += BlockWithTrailer(index);
  return file + Footer(meta_offset, meta.size(), index_offset, index.size());
}

std::vector<std::pair<std::string, std::string>> ReadAll(const TableReader& table) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::Status status = table.ForEach([&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

TEST(TableTest, EmptyTableHasOnlyMetaindexIndexAndFooter) {
  TableWriter writer;
  const std::string file = writer.Finish();
  // Two empty blocks (restart array {0}, count 1: 8 bytes) with 5-byte trailers, then the footer.
  ASSERT_EQ(file.size(), 2 * (8 + 5) + 48u);
  EXPECT_EQ(file.substr(0, 8), std::string("\0\0\0\0\1\0\0\0", 8));
  EXPECT_EQ(file.substr(26, 4), std::string("\x00\x08\x0d\x08", 4));  // handles (0,8), (13,8)
  auto table = TableReader::Open("empty.index", file);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(ReadAll(*table).empty());
  EXPECT_EQ(table->Get("").status().code(), absl::StatusCode::kNotFound);
}

// Hand-computed layout with one entry per block, which exercises the shortened separators:
// between "abc" and "abz" the index key is "abd"; after the last key "abz" it is "b".
TEST(TableTest, WriterShortensIndexKeysLikeTensorFlow) {
  TableOptions options;
  options.block_size = 1;
  TableWriter writer(options);
  ASSERT_TRUE(writer.Add("abc", "1").ok());
  ASSERT_TRUE(writer.Add("abz", "2").ok());
  const std::string file = writer.Finish();

  // Data block 1 at 0: entry {shared 0, unshared 3, value 1, "abc", "1"}, restarts {0}, count 1.
  const std::string block1 = std::string(
                                 "\x00\x03\x01"
                                 "abc"
                                 "1",
                                 7) +
                             Fixed32(0) + Fixed32(1);
  const std::string block2 = std::string(
                                 "\x00\x03\x01"
                                 "abz"
                                 "2",
                                 7) +
                             Fixed32(0) + Fixed32(1);
  const std::string meta = Fixed32(0) + Fixed32(1);
  // Index block: "abd" -> (0, 15), "b" -> (20, 15); restart interval 1, so restarts {0, 8}.
  const std::string index = std::string(
                                "\x00\x03\x02"
                                "abd"
                                "\x00\x0f",
                                8) +
                            std::string(
                                "\x00\x01\x02"
                                "b"
                                "\x14\x0f",
                                6) +
                            Fixed32(0) + Fixed32(8) + Fixed32(2);
  const std::string expected = BlockWithTrailer(block1) + BlockWithTrailer(block2) +
                               BlockWithTrailer(meta) + BlockWithTrailer(index) +
                               Footer(40, 8, 53, index.size());
  EXPECT_EQ(file, expected);

  auto table = TableReader::Open("t.index", file);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(*table->Get("abc"), "1");
  EXPECT_EQ(*table->Get("abz"), "2");
  EXPECT_EQ(table->Get("abd").status().code(), absl::StatusCode::kNotFound);
}

TEST(TableTest, RoundTripsManyEntriesAcrossBlocksAndRestarts) {
  std::mt19937 rng(3);
  std::map<std::string, std::string> entries;
  while (entries.size() < 3000) {
    std::string key = absl::StrCat("layer_", rng() % 500, "/", rng() % 100);
    if (rng() % 10 == 0) key.push_back('\xff');
    if (rng() % 10 == 0) key.push_back('\0');
    entries[key] = std::string(rng() % 300, static_cast<char>('a' + rng() % 26));
  }
  for (const TableCompression compression : {TableCompression::kNone, TableCompression::kSnappy}) {
    for (const int restart_interval : {1, 3, 16}) {
      SCOPED_TRACE(::testing::Message() << "compression " << static_cast<int>(compression)
                                        << " restart interval " << restart_interval);
      TableOptions options;
      options.block_size = 4096;
      options.block_restart_interval = restart_interval;
      options.compression = compression;
      TableWriter writer(options);
      ASSERT_TRUE(writer.Add("", "header").ok());
      for (const auto& [k, v] : entries) ASSERT_TRUE(writer.Add(k, v).ok());
      const std::string file = writer.Finish();
      auto table = TableReader::Open("many.index", file);
      ASSERT_TRUE(table.ok()) << table.status();
      EXPECT_EQ(*table->HasCompressedBlocks(), compression == TableCompression::kSnappy);
      auto all = ReadAll(*table);
      ASSERT_EQ(all.size(), entries.size() + 1);
      EXPECT_EQ(all[0], std::make_pair(std::string(), std::string("header")));
      size_t i = 1;
      for (const auto& [k, v] : entries) {
        EXPECT_EQ(all[i].first, k);
        EXPECT_EQ(all[i].second, v);
        ++i;
      }
      for (const auto& [k, v] : entries) {
        auto got = table->Get(k);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, v);
        // Keys just below and above are absent.
        EXPECT_EQ(table->Get(k + std::string(1, '\x01')).status().code(),
                  absl::StatusCode::kNotFound);
      }
      EXPECT_EQ(table->Get("zzz").status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(*table->Get(""), "header");
    }
  }
}

TEST(TableTest, WriterRejectsKeysOutOfOrder) {
  TableWriter writer;
  ASSERT_TRUE(writer.Add("b", "").ok());
  absl::Status status = writer.Add("a", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("key \"a\" is not greater than the previous key \"b\""));
  EXPECT_EQ(writer.Add("b", "").code(), absl::StatusCode::kInvalidArgument);
}

// Every checkpoint index among the fixtures, read entry by entry and written again with the same
// compression, gives TensorFlow's bytes back: block layout, restarts, separators, trailers, footer.
TEST(TableTest, RewritingFixtureIndexesReproducesTensorFlowsBytes) {
  auto root = savant::testing::FixturesRoot();
  if (!root.ok()) GTEST_SKIP() << root.status().message();
  int checked = 0;
  for (const auto& item : std::filesystem::recursive_directory_iterator(*root)) {
    if (item.path().filename() != "variables.index") continue;
    SCOPED_TRACE(item.path().string());
    auto bytes = ReadFileToString(item.path().string());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto table = TableReader::Open(item.path().string(), *bytes);
    ASSERT_TRUE(table.ok()) << table.status();
    TableOptions options;
    options.compression =
        *table->HasCompressedBlocks() ? TableCompression::kSnappy : TableCompression::kNone;
    TableWriter writer(options);
    ASSERT_TRUE(
        table->ForEach([&](std::string_view k, std::string_view v) { return writer.Add(k, v); })
            .ok());
    EXPECT_TRUE(writer.Finish() == *bytes);
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(TableTest, TooShortFileIsDataLoss) {
  for (const size_t size : {size_t{0}, size_t{47}}) {
    auto table = TableReader::Open("short.index", std::string(size, '\0'));
    ASSERT_EQ(table.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(table.status().message()),
                HasSubstr(absl::StrCat("short.index: file is ", size,
                                       " bytes, shorter than the 48-byte table footer")));
  }
}

TEST(TableTest, BadMagicIsDataLoss) {
  TableWriter writer;
  std::string file = writer.Finish();
  file.back() = 0;
  auto table = TableReader::Open("x.index", file);
  ASSERT_EQ(table.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(table.status().message()),
              HasSubstr("x.index: bad magic number in the footer: expected 0xdb4775248b80fb57, "
                        "found 0x004775248b80fb57"));
}

TEST(TableTest, IndexHandlePastEndIsDataLoss) {
  TableWriter writer;
  ASSERT_TRUE(writer.Add("k", "v").ok());
  std::string file = writer.Finish();
  // Point the index handle at offset 1000.
  const std::string footer = Footer(0, 8, 1000, 20);
  file.replace(file.size() - 48, 48, footer);
  auto table = TableReader::Open("x.index", file);
  ASSERT_EQ(table.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(table.status().message()),
              HasSubstr("x.index: block at offset 1000 (20 bytes): extends past the end"));
}

TEST(TableTest, BadVarintInFooterIsDataLoss) {
  TableWriter writer;
  std::string file = writer.Finish();
  for (size_t i = file.size() - 48; i < file.size() - 8; ++i) file[i] = '\x80';
  auto table = TableReader::Open("x.index", file);
  ASSERT_EQ(table.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("bad varint in the block handles"));
}

TEST(TableTest, DataBlockChecksumMismatchNamesBlockAndBothChecksums) {
  TableWriter writer;
  ASSERT_TRUE(writer.Add("key", "value").ok());
  std::string file = writer.Finish();
  file[5] ^= 0x01;  // Inside the value of the only data block.
  auto table = TableReader::Open("x.index", file);
  ASSERT_TRUE(table.ok()) << table.status();  // The index block is intact.
  absl::Status status =
      table->ForEach([](std::string_view, std::string_view) { return absl::OkStatus(); });
  ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("x.index: block at offset 0 (19 bytes): checksum "
                        "mismatch: expected 0x"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(", found 0x"));
  EXPECT_EQ(table->Get("key").status().code(), absl::StatusCode::kDataLoss);
}

TEST(TableTest, UnknownBlockTypeIsDataLoss) {
  std::string contents = std::string(
                             "\x00\x01\x01"
                             "kv",
                             5) +
                         Fixed32(0) + Fixed32(1);
  std::string file = TableWithDataBlock(contents);
  // Rewrite the data block's trailer with type 7 and a matching checksum.
  const std::string bad = BlockWithTrailer(contents, 7);
  file.replace(0, bad.size(), bad);
  auto table = TableReader::Open("x.index", file);
  ASSERT_TRUE(table.ok()) << table.status();
  absl::Status status = table->ForEach([](auto, auto) { return absl::OkStatus(); });
  ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown block type 7"));
}

struct MalformedBlock {
  std::string name;
  std::string contents;
  std::string message;
};

TEST(TableTest, MalformedBlockContentsAreDataLoss) {
  const std::vector<MalformedBlock> cases = {
      {"restart count too large",
       std::string("\x00\x01\x01"
                   "kv",
                   5) +
           Fixed32(0) + Fixed32(9),
       "restart array out of range: 9 restart points need 40 bytes, the block has 13"},
      {"restart count zero",
       std::string("\x00\x01\x01"
                   "kv",
                   5) +
           Fixed32(0),
       "restart array out of range: 0 restart points"},
      {"restart point past entries",
       std::string("\x00\x01\x01"
                   "kv",
                   5) +
           Fixed32(6) + Fixed32(1),
       "restart point 0 at offset 6 is past the entries (5 bytes)"},
      {"shared prefix longer than previous key",
       std::string("\x00\x01\x01"
                   "kv"
                   "\x05\x01\x01"
                   "kv",
                   10) +
           Fixed32(0) + Fixed32(1),
       "entry at block offset 5 shares 5 key bytes with the previous key, which has only 1"},
      {"bad varint", std::string("\xff\xff\xff\xff\xff\xff", 6) + Fixed32(0) + Fixed32(1),
       "bad varint in the entry header at block offset 0"},
      {"value past restart array",
       std::string("\x00\x01\x09"
                   "kv",
                   5) +
           Fixed32(0) + Fixed32(1),
       "entry at block offset 0 needs 10 bytes of key and value, only 2 remain"},
      {"keys out of order",
       std::string("\x00\x01\x01"
                   "bv"
                   "\x00\x01\x01"
                   "av",
                   10) +
           Fixed32(0) + Fixed32(1),
       "key \"a\" is not greater than the previous key \"b\""},
      {"too short for a restart count", std::string("\x01\x02", 2),
       "contents are 2 bytes, too short for the restart count"},
  };
  for (const MalformedBlock& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = TableWithDataBlock(c.contents);
    auto table = TableReader::Open("bad.index", file);
    ASSERT_TRUE(table.ok()) << table.status();
    absl::Status status = table->ForEach([](auto, auto) { return absl::OkStatus(); });
    ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("bad.index: block at offset 0"));
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(SnappyTest, RoundTripsAcrossFragments) {
  std::mt19937 rng(5);
  std::vector<std::string> inputs = {"", "a", "abcdefghijklmnop", std::string(100000, 'x')};
  std::string mixed;
  while (mixed.size() < 200000) {
    if (rng() % 2) {
      mixed += absl::StrCat("layer_", rng() % 50, "/kernel/.ATTRIBUTES/VARIABLE_VALUE");
    } else {
      mixed.push_back(static_cast<char>(rng()));
    }
  }
  inputs.push_back(mixed);
  std::string random(70000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  inputs.push_back(random);
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input.size());
    const std::string compressed = SnappyCompress(input);
    auto back = SnappyUncompress(compressed);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == input);
  }
  EXPECT_LT(SnappyCompress(std::string(100000, 'x')).size(), 5000u);
}

// The snappy format's own example: a literal then a copy of offset 1 repeats the last byte.
TEST(SnappyTest, DecodesHandWrittenElements) {
  // Length 10; literal "ab" (tag 0x04); copy length 8 offset 2 (2-byte form: 1 + (4 << 2)).
  const std::string compressed = std::string(
      "\x0a\x04"
      "ab"
      "\x11\x02",
      6);
  auto out = SnappyUncompress(compressed);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "ababababab");
}

TEST(SnappyTest, MalformedInputIsDataLoss) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\x80", 1), "bad varint for the uncompressed length"},
      {std::string("\x05\x10"
                   "ab",
                   4),
       "literal of 5 bytes at offset 1 runs past the end"},
      {std::string("\x08\x04"
                   "ab"
                   "\x11\x05",
                   6),
       "copy of 8 bytes from 5 bytes back"},
      {std::string("\x08\x04"
                   "ab"
                   "\x11\x00",
                   6),
       "copy of 8 bytes from 0 bytes back"},
      {std::string("\x0a\x04"
                   "ab"
                   "\x01",
                   5),
       "copy element at offset 4 is truncated"},
      {std::string("\x04\x04"
                   "ab",
                   4),
       "produced 2 bytes, the header declares 4"},
      {std::string("\xff\xff\xff\x0f\x00", 5), "more than 5 compressed bytes can encode"},
  };
  for (const auto& [input, message] : cases) {
    SCOPED_TRACE(message);
    auto out = SnappyUncompress(input);
    ASSERT_EQ(out.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(message));
  }
}

}  // namespace
}  // namespace savant::loader
