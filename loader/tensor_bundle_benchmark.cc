// Benchmark of checkpoint reading (not a unit test; not registered with CTest).
//
// Writes a bundle of float variables with BundleWriter (default: 50 tensors of 10 MiB, 500 MiB)
// under a fresh directory in /tmp, then times, warm (page cache filled) and cold (the files'
// pages dropped with posix_fadvise(DONTNEED) first):
//   (a) read(): the data file read sequentially into an 8 MiB buffer, the floor for any reader;
//   (b) bundle: BundleReader::Open plus Lookup of every tensor, which verifies each tensor's
//       CRC-32C and so reads every byte (tensors are zero-copy views of the mapped file);
//   (c) the CRC-32C alone over the mapped, warm data file, once per implementation the CPU has.
// It prints both times, the ratio (b)/(a) (goal: at most 1.5) and the peak resident set size
// relative to the variables' size (goal: at most 1.2; mapped pages count as resident while
// mapped, but they are page cache, not heap). The directory is deleted at the end.
//
//   tensor_bundle_benchmark [--tensors=50] [--tensor_mib=10] [--repeats=3]
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tensor.h"
#include "loader/crc32c.h"
#include "loader/mapped_file.h"
#include "loader/tensor_bundle.h"

namespace {

using savant::engine::DataType;
using savant::engine::Tensor;
using savant::loader::BundleReader;
using savant::loader::BundleWriter;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "tensor_bundle_benchmark: %s\n", message.c_str());
  std::exit(1);
}

long PeakRssKib() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void DropFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die(absl::StrCat("cannot open ", path));
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// (a): sequential read() of the whole file.
uint64_t ReadSequentially(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die(absl::StrCat("cannot open ", path));
  std::vector<char> buffer(8 << 20);
  uint64_t total = 0;
  uint64_t sink = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) Die(absl::StrCat("cannot read ", path));
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    sink += static_cast<uint8_t>(buffer[static_cast<size_t>(n) - 1]);
  }
  ::close(fd);
  return total + (sink & 0);
}

// (b): open the bundle and look up every tensor (each lookup checksums all of its bytes).
uint64_t ReadBundle(const std::string& prefix) {
  auto reader = BundleReader::Open(prefix);
  if (!reader.ok()) Die(std::string(reader.status().message()));
  uint64_t total = 0;
  std::vector<Tensor> tensors;
  for (const auto& entry : (*reader)->entries()) {
    auto t = (*reader)->Lookup(entry.name);
    if (!t.ok()) Die(std::string(t.status().message()));
    total += t->byte_size();
    tensors.push_back(std::move(*t));  // Keep them alive, as a loaded model does.
  }
  return total;
}

struct Timing {
  double best = 1e30;
  double median = 0;
};

template <typename F>
Timing Time(int repeats, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    run(i);
    times.push_back(Seconds(start));
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2]};
}

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  const std::string prefix = absl::StrCat("--", name, "=");
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::atoi(argv[i] + prefix.size());
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int tensor_count = IntFlag(argc, argv, "tensors", 50);
  const int tensor_mib = IntFlag(argc, argv, "tensor_mib", 10);
  const int repeats = IntFlag(argc, argv, "repeats", 3);
  if (tensor_count < 1 || tensor_mib < 1 || repeats < 1) Die("flags must be positive");

  char dir_template[] = "/tmp/savant_bundle_benchmark.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) Die("cannot create a directory in /tmp");
  const std::string dir = dir_template;
  const std::string prefix = dir + "/variables";
  const std::string data_file = prefix + ".data-00000-of-00001";
  const int64_t elements = static_cast<int64_t>(tensor_mib) * (1 << 20) / 4;
  const double total_mib = static_cast<double>(tensor_count) * tensor_mib;

  const auto write_start = Clock::now();
  {
    BundleWriter writer(prefix);
    Tensor t(DataType::kFloat, {elements});
    for (int i = 0; i < tensor_count; ++i) {
      float* p = t.data<float>();
      for (int64_t j = 0; j < elements; ++j) p[j] = static_cast<float>(i) + 1e-6f * j;
      absl::Status status = writer.Add(absl::StrCat("layer_", i, "/kernel"), t);
      if (!status.ok()) Die(std::string(status.message()));
    }
    absl::Status status = writer.Finish();
    if (!status.ok()) Die(std::string(status.message()));
  }
  const double write_seconds = Seconds(write_start);

  std::printf("bundle: %d tensors x %d MiB = %.0f MiB of float variables in %s\n", tensor_count,
              tensor_mib, total_mib, dir.c_str());
  std::printf("write (BundleWriter, incl. generating values): %.3f s, %.0f MiB/s\n", write_seconds,
              total_mib / write_seconds);
  std::printf("crc32c: %s\n", savant::loader::crc32c::Name(savant::loader::crc32c::Best()));
  const long rss_before = PeakRssKib();

  // Warm: page cache holds the files.
  ReadSequentially(data_file);
  const Timing warm_read = Time(repeats, [&](int) { ReadSequentially(data_file); });
  const Timing warm_bundle = Time(repeats, [&](int) { ReadBundle(prefix); });
  // Cold: the files' pages are dropped before each run.
  const Timing cold_read = Time(repeats, [&](int) {
    DropFromPageCache(data_file);
    ReadSequentially(data_file);
  });
  const Timing cold_bundle = Time(repeats, [&](int) {
    DropFromPageCache(data_file);
    DropFromPageCache(prefix + ".index");
    ReadBundle(prefix);
  });
  const long rss_peak = PeakRssKib();

  // The checksum alone over the warm data file, per implementation this CPU supports.
  namespace crc32c = savant::loader::crc32c;
  std::vector<std::pair<crc32c::Implementation, Timing>> crc_timings;
  {
    auto file = savant::loader::MappedFile::Open(data_file);
    if (!file.ok()) Die(std::string(file.status().message()));
    (*file)->Populate(0, (*file)->size());
    for (crc32c::Implementation impl : {crc32c::Implementation::kPortable,
                                        crc32c::Implementation::kSse42,
                                        crc32c::Implementation::kAvx512Clmul}) {
      if (!crc32c::IsSupported(impl)) continue;
      volatile uint32_t sink = 0;
      crc_timings.emplace_back(impl, Time(repeats, [&](int) {
        sink = sink ^ crc32c::ExtendWith(impl, 0, (*file)->contents().data(), (*file)->size());
      }));
    }
  }

  const auto row = [&](const char* name, const Timing& read, const Timing& bundle) {
    std::printf(
        "%-5s (a) read(): %7.3f s %6.0f MiB/s | (b) bundle: %7.3f s %6.0f MiB/s | "
        "(b)/(a) = %.2f (median %.2f)\n",
        name, read.best, total_mib / read.best, bundle.best, total_mib / bundle.best,
        bundle.best / read.best, bundle.median / read.median);
  };
  std::printf("best of %d runs:\n", repeats);
  row("warm", warm_read, warm_bundle);
  row("cold", cold_read, cold_bundle);
  for (const auto& [impl, timing] : crc_timings) {
    std::printf("crc32c alone, warm, %-27s %7.3f s %6.0f MiB/s = %.2fx read()\n",
                crc32c::Name(impl), timing.best, total_mib / timing.best,
                timing.best / warm_read.best);
  }
  std::printf(
      "peak RSS: %.0f MiB = %.2fx the variables (%.0f MiB before reading: the writer's "
      "buffers)\n",
      rss_peak / 1024.0, rss_peak / 1024.0 / total_mib, rss_before / 1024.0);

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
