#include "loader/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace savant::loader {
namespace {

absl::Status ErrnoToStatus(int error, absl::string_view path, absl::string_view action) {
  std::string message = absl::StrCat("\"", path, "\": ", action, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// Closes a descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` for reading and returns its descriptor and size, refusing non-regular files (a
// directory or a FIFO named like a checkpoint file is a configuration error, not data).
absl::StatusOr<std::pair<int, size_t>> OpenRegularFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return ErrnoToStatus(error, path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat("\"", path, "\": not a regular file"));
  }
  return std::make_pair(fd, static_cast<size_t>(st.st_size));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(const std::string& path) {
  auto opened = OpenRegularFile(path);
  if (!opened.ok()) return opened.status();
  FileDescriptor fd(opened->first);
  const size_t size = opened->second;
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (data == MAP_FAILED) return ErrnoToStatus(errno, path, "cannot mmap");
  }
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

void MappedFile::Populate(size_t offset, size_t size) const {
#ifndef MADV_POPULATE_READ
  constexpr int MADV_POPULATE_READ = 22;  // Linux 5.14; older headers lack the name.
#endif
  if (data_ == nullptr || offset >= size_ || size == 0) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t begin = offset / page * page;
  const size_t end = offset + std::min(size, size_ - offset);
  // Older kernels answer EINVAL; the pages then fault in on first touch as usual.
  ::madvise(static_cast<char*>(data_) + begin, end - begin, MADV_POPULATE_READ);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  auto opened = OpenRegularFile(path);
  if (!opened.ok()) return opened.status();
  FileDescriptor fd(opened->first);
  std::string contents(opened->second, '\0');
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::read(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, path, "cannot read");
    if (n == 0) break;  // The file shrank while we read it; keep what is there.
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  return contents;
}

}  // namespace savant::loader
