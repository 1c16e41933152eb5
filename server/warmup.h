// Model warmup, as TensorFlow Serving does it: before a freshly loaded version takes traffic, the
// requests recorded in <version>/assets.extra/tf_serving_warmup_requests (a TFRecord file of
// tensorflow.serving.PredictionLog) are replayed against it through the shared request path. A
// version whose warmup fails does not load. Also the TFRecord framing itself, which tests and tools
// use to write warmup files:
//
//   uint64 length (little-endian) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/model_manager.h"
#include "server/predict_path.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"

namespace savant::server {

inline constexpr char kWarmupFileName[] = "tf_serving_warmup_requests";
inline constexpr char kAssetsExtraDirectory[] = "assets.extra";
// TensorFlow Serving's limit on warmup records per version.
inline constexpr int kMaxWarmupRecords = 1000;

// One TFRecord: header, data and checksums.
std::string EncodeTfRecord(absl::string_view data);

// Every record of `bytes`. DATA_LOSS naming the record index for a truncated record or a checksum
// mismatch; `label` (a file name) starts the message.
absl::StatusOr<std::vector<std::string>> DecodeTfRecords(absl::string_view bytes, absl::string_view label);

// Replays the warmup file of `version` (OK when there is none) `iterations` times per record
// (values below 1 mean 1). Errors: DATA_LOSS for a file that is not TFRecord ("... Please verify
// your warmup data is in TFRecord format."), INVALID_ARGUMENT for an unparseable record or more than
// kMaxWarmupRecords records, UNIMPLEMENTED for log types other than predict, classify, regress and
// multi_inference, and the first failing request's error, each prefixed with the record number.
absl::Status RunWarmup(const LoadedVersion& version, int iterations, const PredictPathOptions& options);

}  // namespace savant::server
