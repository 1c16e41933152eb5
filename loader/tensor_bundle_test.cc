#include "loader/tensor_bundle.h"

#include <algorithm>
#include <atomic>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/crc32c.h"
#include "loader/mapped_file.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

namespace fs = std::filesystem;
using engine::DataType;
using engine::Shape;
using engine::Tensor;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixed32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string ReadFile(const fs::path& path) {
  auto bytes = ReadFileToString(path.string());
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

float FloatScalar(const BundleReader& reader, const std::string& name) {
  auto t = reader.Lookup(name);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return -1;
  EXPECT_EQ(t->dtype(), DataType::kFloat);
  EXPECT_EQ(t->rank(), 0);
  return t->scalar<float>();
}

// The variables prefixes of every fixture SavedModel that has variables.
std::vector<fs::path> FixtureBundles() {
  std::vector<fs::path> out;
  auto root = savant::testing::FixturesRoot();
  if (!root.ok()) return out;
  for (const auto& item : fs::recursive_directory_iterator(*root)) {
    if (item.path().filename() == "variables.index") {
      out.push_back(item.path().parent_path() / "variables");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.dtype() == DataType::kString) {
    return std::equal(a.flat<std::string>().begin(), a.flat<std::string>().end(),
                      b.flat<std::string>().begin());
  }
  return a.byte_size() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

// ------------------------------------------------------------------------------------------------
// Real TensorFlow files

// TensorFlow Serving's half_plus_two: y = a * x + b with a = 0.5, b = 2; regress_x_to_y2 uses
// c = 3 (y2 = 0.5 x + 3) and regress_x2_to_y3 uses a2 = 0.5, c2 = 3 (y3 = 0.5 x2 + 3).
TEST(BundleReaderTest, ReadsHalfPlusTwoVariables) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  auto reader = BundleReader::Open((dir / "variables" / "variables").string());
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> names;
  for (const BundleEntry& e : (*reader)->entries()) names.push_back(e.name);
  EXPECT_THAT(names, ::testing::ElementsAre("a", "a2", "b", "c", "c2"));
  EXPECT_EQ(FloatScalar(**reader, "a"), 0.5f);
  EXPECT_EQ(FloatScalar(**reader, "b"), 2.0f);
  EXPECT_EQ(FloatScalar(**reader, "c"), 3.0f);
  EXPECT_EQ(FloatScalar(**reader, "a2"), 0.5f);
  EXPECT_EQ(FloatScalar(**reader, "c2"), 3.0f);
  // This index was written by a TensorFlow build with snappy-compressed tables.
  EXPECT_TRUE((*reader)->index_compressed());
  EXPECT_EQ((*reader)->Lookup("d").status().code(), absl::StatusCode::kNotFound);
}

TEST(BundleReaderTest, ReadsHalfPlusThreeVariables) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_three/00000123");
  auto reader = BundleReader::Open((dir / "variables" / "variables").string());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(FloatScalar(**reader, "a"), 0.5f);  // y = 0.5 * x + 3
  EXPECT_EQ(FloatScalar(**reader, "b"), 3.0f);
}

TEST(BundleReaderTest, ReadsEveryTensorOfEveryFixture) {
  const std::vector<fs::path> bundles = FixtureBundles();
  if (bundles.empty()) GTEST_SKIP() << "no fixtures: " << savant::testing::FixturesRoot().status();
  int tensors = 0;
  for (const fs::path& prefix : bundles) {
    SCOPED_TRACE(prefix.string());
    auto reader = BundleReader::Open(prefix.string());
    ASSERT_TRUE(reader.ok()) << reader.status();
    for (const BundleEntry& entry : (*reader)->entries()) {
      auto t = (*reader)->Lookup(entry.name);
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_EQ(t->dtype(), entry.dtype);
      EXPECT_EQ(t->shape(), entry.shape);
      ++tensors;
    }
  }
  EXPECT_GT(tensors, 500);
}

// The project's acceptance test: our writer, given the tensors TensorFlow saved (in the order of
// their offsets, which is the order TensorFlow added them), produces TensorFlow's `.index` and
// `.data-00000-of-00001` byte for byte, and every value reads back unchanged. Every fixture is
// single-sharded and unpartitioned. Indexes that TensorFlow wrote with snappy-compressed table
// blocks (builds at Google) are re-encoded with snappy; the others without.
TEST(BundleWriterTest, ReencodingFixturesIsByteIdentical) {
  const std::vector<fs::path> bundles = FixtureBundles();
  if (bundles.empty()) GTEST_SKIP() << "no fixtures: " << savant::testing::FixturesRoot().status();
  int checked = 0;
  for (const fs::path& prefix : bundles) {
    SCOPED_TRACE(prefix.string());
    auto reader = BundleReader::Open(prefix.string());
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_EQ((*reader)->num_shards(), 1);
    std::vector<const BundleEntry*> by_offset;
    for (const BundleEntry& e : (*reader)->entries()) by_offset.push_back(&e);
    std::stable_sort(
        by_offset.begin(), by_offset.end(),
        [](const BundleEntry* a, const BundleEntry* b) { return a->offset < b->offset; });
    BundleWriter::Options options;
    options.index_compression =
        (*reader)->index_compressed() ? TableCompression::kSnappy : TableCompression::kNone;
    auto writer = BundleWriter::InMemory(options);
    std::vector<Tensor> originals;
    for (const BundleEntry* e : by_offset) {
      ASSERT_TRUE(e->slices.empty());
      auto t = (*reader)->Lookup(e->name);
      ASSERT_TRUE(t.ok()) << t.status();
      ASSERT_TRUE(writer->Add(e->name, *t).ok());
      originals.push_back(*t);
    }
    ASSERT_TRUE(writer->Finish().ok());
    const std::string index = ReadFile(prefix.string() + ".index");
    const std::string data = ReadFile(prefix.string() + ".data-00000-of-00001");
    EXPECT_EQ(writer->index_bytes().size(), index.size());
    EXPECT_TRUE(writer->index_bytes() == index) << "index bytes differ";
    EXPECT_EQ(writer->data_bytes().size(), data.size());
    EXPECT_TRUE(writer->data_bytes() == data) << "data bytes differ";

    auto reread = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
    ASSERT_TRUE(reread.ok()) << reread.status();
    for (size_t i = 0; i < by_offset.size(); ++i) {
      auto t = (*reread)->Lookup(by_offset[i]->name);
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_TRUE(SameBytes(*t, originals[i])) << by_offset[i]->name;
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

// A POD tensor at an aligned offset is a view of the mapped data file: looking it up twice gives
// the same memory, and it holds exactly the file's bytes at the entry's offset.
TEST(BundleReaderTest, AlignedTensorsAreViewsOfTheMappedFile) {
  SAVANT_FIXTURE_OR_SKIP(dir, "wild/openmv-imgclf");
  const std::string prefix = (dir / "variables" / "variables").string();
  auto reader = BundleReader::Open(prefix);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const BundleEntry* largest = nullptr;
  for (const BundleEntry& e : (*reader)->entries()) {
    if (e.dtype == DataType::kFloat && (largest == nullptr || e.size > largest->size)) largest = &e;
  }
  ASSERT_NE(largest, nullptr);
  ASSERT_EQ(largest->offset % 4, 0);
  auto first = (*reader)->Lookup(largest->name);
  auto second = (*reader)->Lookup(largest->name);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->raw_data(), second->raw_data());
  const std::string data = ReadFile(prefix + ".data-00000-of-00001");
  const int64_t offset = largest->offset;
  const auto size = static_cast<size_t>(largest->size);
  EXPECT_EQ(std::memcmp(first->raw_data(), data.data() + offset, size), 0);
  // The view keeps the mapping alive after the reader is gone.
  reader->reset();
  EXPECT_EQ(std::memcmp(first->raw_data(), data.data() + offset, size), 0);
}

// ------------------------------------------------------------------------------------------------
// Damaged files

class CorruptBundleTest : public ::testing::Test {
 protected:
  void CopyFixture(const fs::path& dir) {
    temp_ = savant::testing::MakeTempDir("bundle_corrupt");
    savant::testing::CopyTree(dir / "variables", temp_);
    fs::permissions(temp_ / "variables.index", fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add);
    fs::permissions(temp_ / "variables.data-00000-of-00001",
                    fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
  }
  void TearDown() override {
    if (!temp_.empty()) fs::remove_all(temp_);
  }
  std::string prefix() const { return (temp_ / "variables").string(); }
  std::string index() const { return (temp_ / "variables.index").string(); }
  std::string data() const { return (temp_ / "variables.data-00000-of-00001").string(); }

  fs::path temp_;
};

TEST_F(CorruptBundleTest, MissingIndexIsNotFound) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  fs::remove(index());
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr(index()));
}

TEST_F(CorruptBundleTest, MissingDataFileIsNotFound) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  fs::remove(data());
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr(data()));
}

TEST_F(CorruptBundleTest, EmptyIndexIsDataLoss) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  WriteFile(index(), "");
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reader.status().message(),
            absl::StrCat(index(), ": file is 0 bytes, shorter than the 48-byte table footer"));
}

TEST_F(CorruptBundleTest, TruncatedIndexIsDataLoss) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  const std::string bytes = ReadFile(index());
  WriteFile(index(), bytes.substr(0, bytes.size() - 10));
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reader.status().message()),
              StartsWith(absl::StrCat(index(), ": bad magic number in the footer")));
}

TEST_F(CorruptBundleTest, FlippedIndexBitInDataBlockIsChecksumMismatch) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_gpu/00000123");
  CopyFixture(dir);
  std::string bytes = ReadFile(index());
  bytes[20] ^= 0x04;
  WriteFile(index(), bytes);
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reader.status().message()),
              StartsWith(absl::StrCat(index(),
                                      ": block at offset 0 (66 bytes): checksum "
                                      "mismatch: expected 0x")));
}

// Whatever single bit of an index is flipped, the reader either fails cleanly or (for bits no
// checksum covers: the footer padding and the unread metaindex block) returns the same tensors.
TEST_F(CorruptBundleTest, EveryFlippedIndexBitFailsCleanlyOrChangesNothing) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_tf2_cpu/00000123");
  CopyFixture(dir);
  const std::string original = ReadFile(index());
  const std::string data_bytes = ReadFile(data());
  auto good = BundleReader::OpenFromMemory(original, {data_bytes});
  ASSERT_TRUE(good.ok());
  int failures = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = original;
      bytes[i] ^= static_cast<char>(1 << bit);
      auto reader = BundleReader::OpenFromMemory(bytes, {data_bytes}, prefix());
      if (!reader.ok()) {
        ++failures;
        EXPECT_THAT(std::string(reader.status().message()), StartsWith(index())) << reader.status();
        continue;
      }
      ASSERT_EQ((*reader)->entries().size(), (*good)->entries().size()) << i;
      for (const BundleEntry& e : (*good)->entries()) {
        auto a = (*good)->Lookup(e.name);
        auto b = (*reader)->Lookup(e.name);
        ASSERT_TRUE(b.ok()) << b.status();
        EXPECT_TRUE(SameBytes(*a, *b)) << "byte " << i << " bit " << bit;
      }
    }
  }
  EXPECT_GT(failures, static_cast<int>(8 * (original.size() - 60)));
}

TEST_F(CorruptBundleTest, TruncatedDataFileNamesFileTensorAndSize) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  WriteFile(data(), ReadFile(data()).substr(0, 10));
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reader.status().message(),
            absl::StrCat(data(),
                         ": tensor \"b\" at offset 8 size 4: runs past the end of the "
                         "file (10 bytes)"));
}

TEST_F(CorruptBundleTest, EmptyDataFileIsDataLoss) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  WriteFile(data(), "");
  auto reader = BundleReader::Open(prefix());
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reader.status().message(),
            absl::StrCat(data(),
                         ": tensor \"a\" at offset 0 size 4: runs past the end of the "
                         "file (0 bytes)"));
}

TEST_F(CorruptBundleTest, FlippedDataBitIsChecksumMismatchOfThatTensorOnly) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  CopyFixture(dir);
  std::string bytes = ReadFile(data());
  const uint32_t expected = crc32c::Value(bytes.data() + 8, 4);
  bytes[9] ^= 0x10;  // Inside "b" (offset 8, 4 bytes).
  const uint32_t found = crc32c::Value(bytes.data() + 8, 4);
  WriteFile(data(), bytes);
  auto reader = BundleReader::Open(prefix());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(FloatScalar(**reader, "a"), 0.5f);
  auto b = (*reader)->Lookup("b");
  ASSERT_EQ(b.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(b.status().message(),
            absl::StrCat(data(), ": tensor \"b\" at offset 8 size 4: checksum mismatch: expected ",
                         absl::StrFormat("0x%08x, found 0x%08x", expected, found)));
}

TEST_F(CorruptBundleTest, FlippedBitInALargeTensorIsDetected) {
  SAVANT_FIXTURE_OR_SKIP(dir, "wild/openmv-imgclf");
  CopyFixture(dir);
  auto reader = BundleReader::Open(prefix());
  ASSERT_TRUE(reader.ok()) << reader.status();
  const BundleEntry* largest = &(*reader)->entries()[0];
  for (const BundleEntry& e : (*reader)->entries()) {
    if (e.size > largest->size) largest = &e;
  }
  const std::string name = largest->name;
  const int64_t offset = largest->offset + largest->size - 3;
  reader->reset();
  std::string bytes = ReadFile(data());
  bytes[offset] ^= 0x01;
  WriteFile(data(), bytes);
  auto damaged = BundleReader::Open(prefix());
  ASSERT_TRUE(damaged.ok()) << damaged.status();
  auto t = (*damaged)->Lookup(name);
  ASSERT_EQ(t.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(absl::StrCat("tensor \"", name, "\"")));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("checksum mismatch"));
}

// ------------------------------------------------------------------------------------------------
// Writer and reader in memory

template <typename T>
Tensor Make(DataType dtype, const Shape& shape, const std::vector<T>& values) {
  Tensor t(dtype, shape);
  EXPECT_EQ(t.byte_size(), values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), t.byte_size());
  return t;
}

Tensor Strings(const Shape& shape, const std::vector<std::string>& values) {
  Tensor t(DataType::kString, shape);
  for (size_t i = 0; i < values.size(); ++i) t.flat<std::string>()[i] = values[i];
  return t;
}

std::unique_ptr<BundleReader> WriteAndOpen(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    BundleWriter::Options options = {}) {
  auto writer = BundleWriter::InMemory(options);
  for (const auto& [name, t] : tensors) EXPECT_TRUE(writer->Add(name, t).ok()) << name;
  EXPECT_TRUE(writer->Finish().ok());
  auto reader = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::move(*reader) : nullptr;
}

TEST(BundleWriterTest, RoundTripsEveryDtype) {
  using C64 = std::complex<float>;
  using C128 = std::complex<double>;
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"float", Make<float>(DataType::kFloat, {2, 2}, {1.5f, -2.0f, 0.0f, 1e30f})},
      {"double", Make<double>(DataType::kDouble, {3}, {1.0 / 3, -0.0, 1e300})},
      {"half", Make<uint16_t>(DataType::kHalf, {2}, {0x3c00, 0xc000})},          // 1, -2
      {"bfloat16", Make<uint16_t>(DataType::kBFloat16, {2}, {0x3f80, 0x4049})},  // 1, ~3.14
      {"int8", Make<int8_t>(DataType::kInt8, {3}, {-128, 0, 127})},
      {"int16", Make<int16_t>(DataType::kInt16, {2}, {-32768, 32767})},
      {"int32", Make<int32_t>(DataType::kInt32, {2}, {INT32_MIN, 7})},
      {"int64", Make<int64_t>(DataType::kInt64, {2}, {INT64_MIN, INT64_MAX})},
      {"uint8", Make<uint8_t>(DataType::kUInt8, {2}, {0, 255})},
      {"uint16", Make<uint16_t>(DataType::kUInt16, {1}, {65535})},
      {"uint32", Make<uint32_t>(DataType::kUInt32, {1}, {4000000000u})},
      {"uint64", Make<uint64_t>(DataType::kUInt64, {1}, {UINT64_MAX})},
      {"bool", Make<uint8_t>(DataType::kBool, {3}, {1, 0, 1})},
      {"complex64", Make<C64>(DataType::kComplex64, {2}, {C64(1, 2), C64(-3, 4)})},
      {"complex128", Make<C128>(DataType::kComplex128, {1}, {C128(5, -6)})},
      {"qint8", Make<int8_t>(DataType::kQInt8, {1}, {-5})},
      {"quint8", Make<uint8_t>(DataType::kQUInt8, {1}, {5})},
      {"qint32", Make<int32_t>(DataType::kQInt32, {1}, {-5})},
      {"string", Strings({2, 2}, {"", std::string("a\0b", 3), std::string(300, 'x'), "\xff"})},
      {"scalar", Tensor::Scalar(42.0f)},
      {"empty_float", Tensor(DataType::kFloat, {0, 3})},
      {"empty_string", Tensor(DataType::kString, {0})},
  };
  auto reader = WriteAndOpen(tensors);
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->entries().size(), tensors.size());
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    auto t = reader->Lookup(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(SameBytes(*t, original)) << t->DebugString();
  }
}

// TensorFlow's string layout: varint64 lengths, the masked CRC-32C of the lengths taken as
// fixed32 values, then the bytes; the entry's checksum covers lengths (fixed32), that masked CRC
// and the bytes.
TEST(BundleWriterTest, StringLayoutMatchesTensorFlow) {
  auto writer = BundleWriter::InMemory();
  ASSERT_TRUE(writer->Add("s", Strings({2}, {"a", std::string(200, 'b')})).ok());
  ASSERT_TRUE(writer->Finish().ok());
  const std::string lengths_as_fixed32 = Fixed32(1) + Fixed32(200);
  const uint32_t length_crc = crc32c::Value(lengths_as_fixed32);
  const std::string expected = std::string("\x01\xc8\x01", 3) + Fixed32(crc32c::Mask(length_crc)) +
                               "a" + std::string(200, 'b');
  EXPECT_TRUE(writer->data_bytes() == expected);

  auto table = TableReader::Open("s.index", writer->index_bytes());
  ASSERT_TRUE(table.ok());
  auto entry_bytes = table->Get("s");
  ASSERT_TRUE(entry_bytes.ok());
  tensorflow::BundleEntryProto entry;
  ASSERT_TRUE(entry.ParseFromString(*entry_bytes));
  const uint32_t crc =
      crc32c::Extend(crc32c::Extend(length_crc, expected.data() + 3, 4), expected.data() + 7, 201);
  EXPECT_EQ(entry.crc32c(), crc32c::Mask(crc));
  EXPECT_EQ(entry.size(), static_cast<int64_t>(expected.size()));
}

// Hand-encoded protos: header {num_shards: 1, version {producer: 1}}, and a float scalar entry
// {dtype: DT_FLOAT, shape {}, size: 4, crc32c} (shard 0 and offset 0 are proto3 defaults).
TEST(BundleWriterTest, IndexEntriesMatchTensorFlowsEncoding) {
  auto writer = BundleWriter::InMemory();
  ASSERT_TRUE(writer->Add("a", Tensor::Scalar(0.5f)).ok());
  ASSERT_TRUE(writer->Finish().ok());
  auto table = TableReader::Open("a.index", writer->index_bytes());
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(*table->Get(""), std::string("\x08\x01\x1a\x02\x08\x01", 6));
  const float half = 0.5f;
  const uint32_t crc = crc32c::Mask(crc32c::Value(&half, 4));
  EXPECT_EQ(*table->Get("a"), std::string("\x08\x01\x12\x00\x28\x04\x35", 7) + Fixed32(crc));
}

TEST(BundleReaderTest, UnalignedTensorsAreCopiedAndAlignmentOptionPads) {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"byte", Make<uint8_t>(DataType::kUInt8, {1}, {9})},
      {"floats", Make<float>(DataType::kFloat, {3}, {1, 2, 3})},
  };
  auto packed = WriteAndOpen(tensors);
  ASSERT_NE(packed, nullptr);
  EXPECT_EQ((*packed->FindEntry("floats"))->offset, 1);
  auto t = packed->Lookup("floats");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw_data()) % alignof(float), 0u);
  EXPECT_THAT(std::vector<float>(t->flat<float>().begin(), t->flat<float>().end()),
              ::testing::ElementsAre(1, 2, 3));

  BundleWriter::Options options;
  options.data_alignment = 8;
  auto aligned = WriteAndOpen(tensors, options);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ((*aligned->FindEntry("floats"))->offset, 8);
  auto u = aligned->Lookup("floats");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(SameBytes(*t, *u));
}

TEST(BundleWriterTest, RejectsBadNamesAndDtypes) {
  auto writer = BundleWriter::InMemory();
  EXPECT_EQ(writer->Add("", Tensor::Scalar(1)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(writer->Add("x", Tensor::Scalar(1)).ok());
  absl::Status duplicate = writer->Add("x", Tensor::Scalar(2));
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(duplicate.message()), HasSubstr("tensor \"x\" was already added"));
  EXPECT_EQ(writer->Add("r", Tensor(DataType::kResource, {})).code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(writer->Add("i", Tensor()).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(writer->Add("y", Tensor::Scalar(1)).code(), absl::StatusCode::kFailedPrecondition);
}

// Key of slice "0,2:-" of "foo" (OrderedCode): 00 | "foo" 00 01 | 01 02 (rank 2) |
// 80 82 (start 0, length 2) | 80 7f (start 0, length -1).
TEST(TensorSliceTest, EncodesKeysLikeTensorFlow) {
  TensorSlice slice{{{0, 2}, {0, SliceExtent::kFullExtent}}};
  EXPECT_EQ(slice.DebugString(), "0,2:-");
  EXPECT_EQ(EncodeTensorNameSlice("foo", slice), std::string("\x00"
                                                             "foo\x00\x01"
                                                             "\x01\x02"
                                                             "\x80\x82"
                                                             "\x80\x7f",
                                                             12));
  // OrderedCode's own examples: 0x424242 -> f0 42 42 42 and -0x800 -> 38 00; names escape
  // 00 as 00 ff and ff as ff 00.
  TensorSlice big{{{0x424242, -0x800}}};
  EXPECT_EQ(EncodeTensorNameSlice(std::string("a\0\xff", 3), big),
            std::string("\x00"
                        "a\x00\xff\xff\x00\x00\x01"
                        "\x01\x01"
                        "\xf0\x42\x42\x42"
                        "\x38\x00",
                        16));
}

TEST(TensorSliceTest, DecodeInvertsEncode) {
  for (int64_t start : {int64_t{0}, int64_t{1}, int64_t{63}, int64_t{64}, int64_t{8191},
                        int64_t{1} << 40, int64_t{1} << 55, INT64_MAX}) {
    for (int64_t length : {int64_t{-1}, int64_t{0}, int64_t{5}, int64_t{1} << 20, INT64_MAX}) {
      TensorSlice slice{{{start, length}, {0, SliceExtent::kFullExtent}}};
      auto decoded = DecodeTensorNameSlice(EncodeTensorNameSlice("v/part", slice));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(decoded->first, "v/part");
      if (length < 0) slice.extents[0] = SliceExtent{};
      EXPECT_EQ(decoded->second, slice) << start << " " << length;
    }
  }
  EXPECT_EQ(DecodeTensorNameSlice("plain_name").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BundleReaderTest, AssemblesPartitionedTensors) {
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
  const Tensor full = Make<float>(DataType::kFloat, {4, 3}, values);
  auto writer = BundleWriter::InMemory();
  // Rows split in two (partitioned on axis 0).
  ASSERT_TRUE(writer
                  ->AddSlice("rows", {4, 3}, TensorSlice{{{0, 2}, {}}},
                             Make<float>(DataType::kFloat, {2, 3}, {0, 1, 2, 3, 4, 5}))
                  .ok());
  ASSERT_TRUE(writer
                  ->AddSlice("rows", {4, 3}, TensorSlice{{{2, 2}, {}}},
                             Make<float>(DataType::kFloat, {2, 3}, {6, 7, 8, 9, 10, 11}))
                  .ok());
  // Columns split 1 + 2 (axis 1): strided copies.
  ASSERT_TRUE(writer
                  ->AddSlice("cols", {4, 3}, TensorSlice{{{}, {1, 2}}},
                             Make<float>(DataType::kFloat, {4, 2}, {1, 2, 4, 5, 7, 8, 10, 11}))
                  .ok());
  ASSERT_TRUE(writer
                  ->AddSlice("cols", {4, 3}, TensorSlice{{{}, {0, 1}}},
                             Make<float>(DataType::kFloat, {4, 1}, {0, 3, 6, 9}))
                  .ok());
  EXPECT_EQ(writer
                ->AddSlice("cols", {4, 3}, TensorSlice{{{}, {0, 1}}},
                           Make<float>(DataType::kFloat, {4, 1}, {0, 3, 6, 9}))
                .code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(writer->Finish().ok());
  auto reader = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
  ASSERT_TRUE(reader.ok()) << reader.status();
  // Two full entries plus four slice entries, whose keys start with a zero byte and sort first.
  ASSERT_EQ((*reader)->entries().size(), 6u);
  EXPECT_EQ((*reader)->entries()[0].name[0], '\0');
  EXPECT_EQ((*(*reader)->FindEntry("rows"))->slices.size(), 2u);
  for (const std::string name : {"rows", "cols"}) {
    auto t = (*reader)->Lookup(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(SameBytes(*t, full)) << name << ": " << t->DebugString(12);
  }
  auto box = (*reader)->LookupSlice("cols", TensorSlice{{{1, 2}, {1, 2}}});
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_EQ(box->shape(), Shape({2, 2}));
  EXPECT_THAT(std::vector<float>(box->flat<float>().begin(), box->flat<float>().end()),
              ::testing::ElementsAre(4, 5, 7, 8));
  EXPECT_EQ((*reader)->LookupSlice("cols", TensorSlice{{{3, 2}, {}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BundleReaderTest, PartitionedTensorMissingASliceIsDataLoss) {
  auto writer = BundleWriter::InMemory();
  ASSERT_TRUE(
      writer->AddSlice("v", {4}, TensorSlice{{{0, 2}}}, Make<float>(DataType::kFloat, {2}, {1, 2}))
          .ok());
  ASSERT_TRUE(writer->Finish().ok());
  auto reader = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto t = (*reader)->Lookup("v");
  ASSERT_EQ(t.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("partitioned tensor \"v\" [4]: the slices cover 2 of 4 elements"));
}

// Indexes built by hand, to reach the checks a correct writer never trips.
class MalformedIndexTest : public ::testing::Test {
 protected:
  MalformedIndexTest() {
    header_.set_num_shards(1);
    header_.mutable_version()->set_producer(1);
    const float value = 1.0f;
    data_.assign(reinterpret_cast<const char*>(&value), 4);
    entry_.set_dtype(tensorflow::DT_FLOAT);
    entry_.mutable_shape();
    entry_.set_size(4);
    entry_.set_crc32c(crc32c::Mask(crc32c::Value(data_)));
  }

  absl::StatusOr<std::unique_ptr<BundleReader>> Open() {
    TableWriter table;
    EXPECT_TRUE(table.Add("", header_.SerializeAsString()).ok());
    EXPECT_TRUE(table.Add("t", entry_.SerializeAsString()).ok());
    return BundleReader::OpenFromMemory(table.Finish(), {data_}, "ckpt");
  }

  void ExpectError(absl::StatusCode code, const std::string& message) {
    auto reader = Open();
    if (reader.ok()) {
      auto t = (*reader)->Lookup("t");
      ASSERT_FALSE(t.ok());
      EXPECT_EQ(t.status().code(), code) << t.status();
      EXPECT_THAT(std::string(t.status().message()), HasSubstr(message));
      return;
    }
    EXPECT_EQ(reader.status().code(), code) << reader.status();
    EXPECT_THAT(std::string(reader.status().message()), HasSubstr(message));
  }

  tensorflow::BundleHeaderProto header_;
  tensorflow::BundleEntryProto entry_;
  std::string data_;
};

TEST_F(MalformedIndexTest, WellFormedIndexReads) {
  auto reader = Open();
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(FloatScalar(**reader, "t"), 1.0f);
}

TEST_F(MalformedIndexTest, BigEndianIsUnimplemented) {
  header_.set_endianness(tensorflow::BundleHeaderProto::BIG);
  ExpectError(absl::StatusCode::kUnimplemented,
              "ckpt.index: the bundle was written on a big-endian machine");
}

TEST_F(MalformedIndexTest, NewerFormatIsInvalidArgument) {
  header_.mutable_version()->set_min_consumer(2);
  ExpectError(absl::StatusCode::kInvalidArgument,
              "needs a reader of format version 2 or later; this reader is version 1");
  header_.mutable_version()->set_min_consumer(0);
  header_.mutable_version()->add_bad_consumers(1);
  ExpectError(absl::StatusCode::kInvalidArgument, "disallows readers of format version 1");
}

TEST_F(MalformedIndexTest, ShardCountMustMatchTheHeader) {
  header_.set_num_shards(2);
  ExpectError(absl::StatusCode::kInvalidArgument, "header has 2 data shards, 1 were provided");
  header_.set_num_shards(0);
  ExpectError(absl::StatusCode::kDataLoss, "header has 0 data shards");
}

TEST_F(MalformedIndexTest, ShardIdOutOfRangeIsDataLoss) {
  entry_.set_shard_id(3);
  ExpectError(absl::StatusCode::kDataLoss,
              "ckpt.index: entry \"t\": shard id 3 out of range: the bundle has 1 shards");
}

TEST_F(MalformedIndexTest, SizeNotMatchingShapeIsDataLoss) {
  entry_.mutable_shape()->add_dim()->set_size(2);
  ExpectError(absl::StatusCode::kDataLoss,
              "ckpt.data-00000-of-00001: tensor \"t\" at offset 0 size 4: size does not match "
              "DT_FLOAT [2], which needs 8 bytes");
}

TEST_F(MalformedIndexTest, InvalidShapesAndDtypesAreDataLoss) {
  entry_.mutable_shape()->add_dim()->set_size(-1);
  ExpectError(absl::StatusCode::kDataLoss, "entry \"t\": shape has a negative dimension -1");
  entry_.mutable_shape()->Clear();
  entry_.mutable_shape()->set_unknown_rank(true);
  ExpectError(absl::StatusCode::kDataLoss, "entry \"t\": shape has unknown rank");
  entry_.mutable_shape()->Clear();
  for (int i = 0; i < 7; ++i) entry_.mutable_shape()->add_dim()->set_size(int64_t{1} << 10);
  ExpectError(absl::StatusCode::kDataLoss, "shape has more than 2^63 elements");
  entry_.mutable_shape()->Clear();
  entry_.set_dtype(static_cast<tensorflow::DataType>(99));
  ExpectError(absl::StatusCode::kDataLoss, "entry \"t\": unknown dtype 99");
  entry_.set_dtype(tensorflow::DT_VARIANT);
  ExpectError(absl::StatusCode::kUnimplemented, "DT_VARIANT tensors are not supported");
}

// 2^62 complex128 elements need 2^66 bytes, which wraps to 0 in 64 bits.
TEST_F(MalformedIndexTest, ByteSizeOverflowIsDataLoss) {
  entry_.set_dtype(tensorflow::DT_COMPLEX128);
  entry_.mutable_shape()->add_dim()->set_size(int64_t{1} << 62);
  entry_.set_size(0);
  ExpectError(absl::StatusCode::kDataLoss,
              "size does not match DT_COMPLEX128 [4611686018427387904], which needs more than "
              "2^64 bytes");
}

TEST_F(MalformedIndexTest, EntryPastEndOfShardIsDataLoss) {
  entry_.set_offset(2);
  ExpectError(absl::StatusCode::kDataLoss,
              "ckpt.data-00000-of-00001: tensor \"t\" at offset 2 size 4: runs past the end of "
              "the file (4 bytes)");
}

TEST_F(MalformedIndexTest, ChecksumMismatchIsDataLoss) {
  entry_.set_crc32c(entry_.crc32c() + 1);
  ExpectError(absl::StatusCode::kDataLoss, "tensor \"t\" at offset 0 size 4: checksum mismatch");
}

TEST_F(MalformedIndexTest, BoolOtherThanZeroOrOneIsDataLoss) {
  data_ = std::string("\x01\x02", 2);
  entry_.set_dtype(tensorflow::DT_BOOL);
  entry_.mutable_shape()->add_dim()->set_size(2);
  entry_.set_size(2);
  entry_.set_crc32c(crc32c::Mask(crc32c::Value(data_)));
  ExpectError(absl::StatusCode::kDataLoss, "bool element is neither 0 nor 1");
}

TEST_F(MalformedIndexTest, StringLengthChecksumMismatchIsDataLoss) {
  // Lengths {1}, a wrong length checksum, then "x".
  data_ = std::string("\x01", 1) + Fixed32(12345) + "x";
  entry_.set_dtype(tensorflow::DT_STRING);
  entry_.mutable_shape()->add_dim()->set_size(1);
  entry_.set_size(static_cast<int64_t>(data_.size()));
  ExpectError(absl::StatusCode::kDataLoss, "checksum of the string lengths mismatch");
}

TEST_F(MalformedIndexTest, StringLengthsBeyondTheEntryAreDataLoss) {
  const uint32_t length_crc = crc32c::Value(Fixed32(9));
  data_ = std::string("\x09", 1) + Fixed32(crc32c::Mask(length_crc)) + "x";
  entry_.set_dtype(tensorflow::DT_STRING);
  entry_.mutable_shape()->add_dim()->set_size(1);
  entry_.set_size(static_cast<int64_t>(data_.size()));
  ExpectError(absl::StatusCode::kDataLoss, "string lengths add up to 9 bytes, but 1 bytes follow");
}

TEST_F(MalformedIndexTest, MissingHeaderIsDataLoss) {
  TableWriter table;
  ASSERT_TRUE(table.Add("t", entry_.SerializeAsString()).ok());
  auto reader = BundleReader::OpenFromMemory(table.Finish(), {data_}, "ckpt");
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr("ckpt.index: no header entry"));
}

TEST(MappedFileTest, MapsFilesAndReportsErrors) {
  const fs::path dir = savant::testing::MakeTempDir("mapped_file");
  WriteFile(dir / "data", "0123456789");
  WriteFile(dir / "empty", "");
  auto file = MappedFile::Open((dir / "data").string());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->contents(), "0123456789");
  (*file)->Populate(2, 100);
  auto empty = MappedFile::Open((dir / "empty").string());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE((*empty)->contents().empty());
  auto missing = MappedFile::Open((dir / "missing").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr((dir / "missing").string()));
  auto directory = MappedFile::Open(dir.string());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFileToString((dir / "data").string()), "0123456789");
  fs::remove_all(dir);
}

TEST(BundleReaderTest, ConcurrentLookupsAreSafe) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (int i = 0; i < 16; ++i) {
    std::vector<float> values(1000, static_cast<float>(i));
    tensors.emplace_back(absl::StrCat("t", i), Make<float>(DataType::kFloat, {1000}, values));
  }
  tensors.emplace_back("s", Strings({2}, {"x", "yz"}));
  auto reader = WriteAndOpen(tensors);
  ASSERT_NE(reader, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 50; ++round) {
        for (const auto& [name, original] : tensors) {
          auto t = reader->Lookup(name);
          if (!t.ok() || !SameBytes(*t, original)) ++mismatches;
        }
      }
      (void)k;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(BundleWriterTest, WritesFilesInPlaceAndLeavesNoTemporaries) {
  const fs::path dir = savant::testing::MakeTempDir("bundle_writer");
  const std::string prefix = (dir / "sub" / "variables").string();
  {
    BundleWriter writer(prefix);
    ASSERT_TRUE(writer.Add("w", Make<float>(DataType::kFloat, {2}, {1, 2})).ok());
    ASSERT_TRUE(writer.Finish().ok());
  }
  std::vector<std::string> files;
  for (const auto& item : fs::directory_iterator(dir / "sub")) {
    files.push_back(item.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_THAT(files, ::testing::ElementsAre("variables.data-00000-of-00001", "variables.index"));
  auto reader = BundleReader::Open(prefix);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto w = (*reader)->Lookup("w");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->flat<float>()[1], 2.0f);
  {
    // An abandoned writer removes its temporary data file.
    BundleWriter abandoned((dir / "other" / "ckpt").string());
    ASSERT_TRUE(abandoned.Add("w", Tensor::Scalar(1)).ok());
  }
  EXPECT_TRUE(fs::is_empty(dir / "other"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace savant::loader
