#include "server/warmup.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "loader/crc32c.h"

namespace savant::server {
namespace {

namespace tfs = tensorflow::serving;
constexpr size_t kHeaderBytes = sizeof(uint64_t) + sizeof(uint32_t);
constexpr size_t kFooterBytes = sizeof(uint32_t);

void PutLittleEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

absl::Status ReplayRecord(const LoadedVersion& version, const tfs::PredictionLog& log,
                          const PredictPathOptions& options) {
  switch (log.log_type_case()) {
    case tfs::PredictionLog::kPredictLog: {
      tfs::PredictResponse response;
      return RunPredict(version, log.predict_log().request(), &response, options);
    }
    case tfs::PredictionLog::kClassifyLog: {
      tfs::ClassificationResponse response;
      return RunClassify(version, log.classify_log().request(), &response, options);
    }
    case tfs::PredictionLog::kRegressLog: {
      tfs::RegressionResponse response;
      return RunRegress(version, log.regress_log().request(), &response, options);
    }
    case tfs::PredictionLog::kMultiInferenceLog: {
      tfs::MultiInferenceResponse response;
      return RunMultiInference(version, log.multi_inference_log().request(), &response, options);
    }
    default:
      return absl::UnimplementedError(absl::StrCat("Unsupported log_type for warmup: ", log.log_type_case()));
  }
}

}  // namespace

std::string EncodeTfRecord(absl::string_view data) {
  std::string out;
  out.reserve(kHeaderBytes + data.size() + kFooterBytes);
  PutLittleEndian(&out, data.size(), 8);
  PutLittleEndian(&out, loader::crc32c::Mask(loader::crc32c::Value(out.data(), 8)), 4);
  out.append(data.data(), data.size());
  PutLittleEndian(&out, loader::crc32c::Mask(loader::crc32c::Value(data.data(), data.size())), 4);
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeTfRecords(absl::string_view bytes, absl::string_view label) {
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t index = records.size();
    auto corrupt = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat(label, ": record ", index, " at byte ", pos, ": ", what));
    };
    if (bytes.size() - pos < kHeaderBytes) return corrupt("truncated header");
    const char* header = bytes.data() + pos;
    const uint64_t length = GetLittleEndian(header, 8);
    if (static_cast<uint32_t>(GetLittleEndian(header + 8, 4)) !=
        loader::crc32c::Mask(loader::crc32c::Value(header, 8))) {
      return corrupt("corrupted record length (checksum mismatch)");
    }
    if (length > bytes.size() - pos - kHeaderBytes || bytes.size() - pos - kHeaderBytes - length < kFooterBytes) {
      return corrupt(absl::StrCat("truncated record of ", length, " bytes"));
    }
    absl::string_view data = bytes.substr(pos + kHeaderBytes, length);
    const uint32_t stored = static_cast<uint32_t>(GetLittleEndian(data.data() + length, 4));
    if (stored != loader::crc32c::Mask(loader::crc32c::Value(data.data(), data.size()))) {
      return corrupt("corrupted record data (checksum mismatch)");
    }
    records.emplace_back(data);
    pos += kHeaderBytes + length + kFooterBytes;
  }
  return records;
}

absl::Status RunWarmup(const LoadedVersion& version, int iterations, const PredictPathOptions& options) {
  const std::filesystem::path path = version.dir / kAssetsExtraDirectory / kWarmupFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  const absl::Time start = absl::Now();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read warmup file \"", path.string(), "\""));
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto records = DecodeTfRecords(bytes.str(), path.string());
  if (!records.ok()) {
    return absl::DataLossError(
        absl::StrCat(records.status().message(), ". Please verify your warmup data is in TFRecord format."));
  }
  if (records->size() > static_cast<size_t>(kMaxWarmupRecords)) {
    return absl::InvalidArgumentError(absl::StrCat("Number of warmup records exceeds the maximum (", kMaxWarmupRecords,
                                                   ") at ", path.string()));
  }
  iterations = std::max(1, iterations);
  for (size_t i = 0; i < records->size(); ++i) {
    tfs::PredictionLog log;
    if (!log.ParseFromString((*records)[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to parse warmup record ", i, " from ", path.string(), " as a PredictionLog"));
    }
    for (int k = 0; k < iterations; ++k) {
      RETURN_IF_ERROR_CTX(ReplayRecord(version, log, options), absl::StrCat("record ", i));
    }
  }
  SAVANT_LOG(INFO) << "model=" << version.name << " version=" << version.version
                   << " state=warmed_up records=" << records->size() << " iterations=" << iterations
                   << " warmup_ms=" << absl::ToInt64Milliseconds(absl::Now() - start);
  return absl::OkStatus();
}

}  // namespace savant::server
