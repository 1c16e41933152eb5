// A read-only memory mapping of a whole file. Checkpoint data files (`variables.data-*`) can be
// hundreds of megabytes; mapping them lets tensors be zero-copy views whose bytes live in the page
// cache, shared by every model version and process that maps the same file, instead of the heap.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace savant::loader {

// Owns a read-only, private mapping of one file for its lifetime. Thread-safe: immutable after
// Open. Share it through the shared_ptr that Open returns; tensors that view its bytes hold a copy
// of that pointer, so the mapping outlives every reader and tensor that uses it.
//
//   ASSIGN_OR_RETURN(auto file, MappedFile::Open("/m/1/variables/variables.data-00000-of-00001"));
//   std::string_view bytes = file->contents();
class MappedFile {
 public:
  // Maps `path`. NOT_FOUND when it does not exist; PERMISSION_DENIED when it cannot be read;
  // FAILED_PRECONDITION when it is not a regular file; INTERNAL for other system errors. Each
  // message names the path and the system error. An empty file maps to empty contents.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  std::string_view contents() const { return {static_cast<const char*>(data_), size_}; }
  size_t size() const { return size_; }

  // Maps the pages of [offset, offset + size) (clipped to the file) into the process in one system
  // call (madvise MADV_POPULATE_READ, Linux 5.14+), reading them from disk if needed, instead of
  // one page fault per 64 KiB on first touch. Best effort: a no-op where unsupported.
  void Populate(size_t offset, size_t size) const;

 private:
  MappedFile(std::string path, void* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  void* data_;
  size_t size_;
};

// Reads a whole (small) file into memory, with the same error codes as MappedFile::Open.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace savant::loader
