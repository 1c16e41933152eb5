// libFuzzer target for everything that parses checkpoint bytes: the table format (with snappy
// blocks), the bundle index and entries, string and partitioned tensors, slice keys and the object
// graph. Built only with SAVANT_FUZZ=ON (clang).
//
// Input: an index file, optionally followed by one data shard. The index ends at the first
// occurrence of the table magic number (the last 8 bytes of every index file); the rest of the
// input is data shard 0. So a fixture's `variables.index`, alone or with its
// `variables.data-00000-of-00001` appended, is a valid seed (tests/fuzz/corpus/tensor_bundle/).
//
// Besides "never crash", the target checks two invariants and traps when they break: every tensor
// a reader returns has its entry's dtype and shape, and a bundle that reads cleanly can be written
// again by BundleWriter and reads back to the same values.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor.h"
#include "loader/checkpoint.h"
#include "loader/table.h"
#include "loader/tensor_bundle.h"

namespace {

using savant::engine::DataType;
using savant::engine::Tensor;

constexpr char kMagic[] = "\x57\xfb\x80\x8b\x24\x75\x47\xdb";

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Reads every byte of a tensor so that the sanitizers see any view that points outside its file.
uint64_t Touch(const Tensor& t) {
  uint64_t sum = 0;
  if (t.dtype() == DataType::kString) {
    for (const std::string& s : t.flat<std::string>()) sum += s.size() + (s.empty() ? 0 : s[0]);
    return sum;
  }
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.byte_size(); ++i) sum += p[i];
  return sum;
}

bool SameValues(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.dtype() == DataType::kString) {
    for (int64_t i = 0; i < a.num_elements(); ++i) {
      if (a.flat<std::string>()[i] != b.flat<std::string>()[i]) return false;
    }
    return true;
  }
  return a.byte_size() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

void FuzzTable(std::string_view index) {
  auto table = savant::loader::TableReader::Open("fuzz.index", index);
  if (!table.ok()) return;
  (void)table->HasCompressedBlocks();
  std::vector<std::string> keys;
  (void)table->ForEach([&keys](std::string_view key, std::string_view) {
    if (keys.size() < 64) keys.emplace_back(key);
    return absl::OkStatus();
  });
  for (const std::string& key : keys) {
    (void)table->Get(key);
    (void)table->Get(key + '\0');
    (void)savant::loader::DecodeTensorNameSlice(key);
  }
  (void)table->Get("");
  (void)table->Get("\xff\xff");
}

void FuzzBundle(std::string_view index, std::string_view data) {
  using savant::loader::BundleReader;
  auto reader = BundleReader::OpenFromMemory(std::string(index), {std::string(data)}, "fuzz");
  if (!reader.ok()) return;
  uint64_t sink = 0;
  bool all_read = true;
  std::vector<std::pair<const savant::loader::BundleEntry*, Tensor>> stored;
  for (const savant::loader::BundleEntry& entry : (*reader)->entries()) {
    auto t = (*reader)->Lookup(entry.name);
    if (!t.ok()) {
      all_read = false;
      continue;
    }
    Check(t->dtype() == entry.dtype && t->shape() == entry.shape);
    sink += Touch(*t);
    if (entry.shape.rank() > 0 && entry.shape.dim(0) > 1) {
      savant::loader::TensorSlice half = savant::loader::TensorSlice::Full(entry.shape.rank());
      half.extents[0] = {1, entry.shape.dim(0) - 1};
      auto part = (*reader)->LookupSlice(entry.name, half);
      if (part.ok()) sink += Touch(*part);
    }
    if (entry.slices.empty()) stored.emplace_back(&entry, std::move(*t));
  }
  auto checkpoint = savant::loader::Checkpoint::FromReader(std::move(*reader));
  if (checkpoint.ok()) {
    sink += (*checkpoint)->variables().size();
    for (const auto& [path, key] : (*checkpoint)->object_path_to_key()) {
      auto t = (*checkpoint)->LookupObject(path);
      if (t.ok()) sink += Touch(*t);
    }
  }
  if (sink == 0x5eed) Check(true);  // Keeps `sink` alive.

  // Round trip: what we read, we can write and read again unchanged (unpartitioned entries; the
  // slice entries among them are plain tensors too).
  if (!all_read) return;
  auto writer = savant::loader::BundleWriter::InMemory();
  for (const auto& [entry, tensor] : stored) Check(writer->Add(entry->name, tensor).ok());
  Check(writer->Finish().ok());
  auto again = BundleReader::OpenFromMemory(writer->index_bytes(), {writer->data_bytes()});
  Check(again.ok());
  for (const auto& [entry, tensor] : stored) {
    auto t = (*again)->Lookup(entry->name);
    Check(t.ok() && SameValues(*t, tensor));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t magic = input.find(std::string_view(kMagic, 8));
  const size_t split = magic == std::string_view::npos ? size : magic + 8;
  const std::string_view index = input.substr(0, split);
  const std::string_view shard = input.substr(split);
  FuzzTable(index);
  FuzzBundle(index, shard);
  (void)savant::loader::SnappyUncompress(input);
  const std::string_view head = input.substr(0, 4096);
  auto round_trip = savant::loader::SnappyUncompress(savant::loader::SnappyCompress(head));
  Check(round_trip.ok() && *round_trip == head);
  return 0;
}
