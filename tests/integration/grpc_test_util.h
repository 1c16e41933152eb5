// Helpers shared by the gRPC integration suites: request builders, response decoders that do not
// use Savant's engine (so a decoding bug in the server cannot hide behind the same bug here), JSON
// comparison against TensorFlow Serving's recorded answers, raw calls for services we have no stubs
// for (health, reflection), and the golden-bytes reader.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "rapidjson/document.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"

namespace savant::testing {

// DT_FLOAT [n, 1].
tensorflow::TensorProto FloatColumn(const std::vector<float>& values);
// The float values of a DT_FLOAT TensorProto, from float_val or tensor_content.
std::vector<float> Floats(const tensorflow::TensorProto& proto);

// tf.Examples with float feature `key` = values[i], one per value.
tensorflow::serving::Input ExampleInput(const std::string& key, const std::vector<float>& values);

// `message` as proto3 JSON with proto field names and default values printed (the form of
// TensorFlow Serving's recorded metadata files).
std::string ToJson(const google::protobuf::Message& message);
absl::StatusOr<rapidjson::Document> ReadJsonFile(const std::filesystem::path& path);
// OK when `actual` equals `expected` field by field (same object keys, array lengths, scalars);
// otherwise INVALID_ARGUMENT naming the first differing path.
absl::Status JsonEqual(const rapidjson::Value& actual, const rapidjson::Value& expected, const std::string& path = "$");

// A unary call with serialized bytes in and out, for services without generated stubs here.
absl::StatusOr<std::string> RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                                         const std::string& request);
// The service names the server lists through grpc.reflection.v1alpha.ServerReflection.
absl::StatusOr<std::vector<std::string>> ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel);

// Bytes from an annotated hex file: hex digit pairs; '#' starts a comment to the end of the line.
absl::StatusOr<std::string> ReadHexGolden(const std::filesystem::path& path);

// Copies tests' files into place so the server never sees a half-written file or directory:
// write/copy under a temporary name in the same directory, then rename.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& contents);
void CopyDirAtomically(const std::filesystem::path& from, const std::filesystem::path& to);

// <version_dir>/assets.extra/tf_serving_warmup_requests holding `logs` as TFRecords.
void WriteWarmupFile(const std::filesystem::path& version_dir,
                     const std::vector<tensorflow::serving::PredictionLog>& logs);

}  // namespace savant::testing
