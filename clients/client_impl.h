// Internal to clients/: the protocol implementations behind ServingClient::Create and the helpers
// they share for turning TensorFlow Serving protos into the client's result types.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/serving_client.h"
#include "google/protobuf/message.h"
#include "kserve/grpc_predict_v2.pb.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/apis/get_model_status.pb.h"
#include "tensorflow_serving/apis/model.pb.h"

namespace savant::clients {

std::unique_ptr<ServingClient> MakeGrpcClient(const Target& target);
std::unique_ptr<ServingClient> MakeRestClient(const Target& target);

// Proto3 JSON with proto field names and default values, as TensorFlow Serving's REST API prints.
std::string ProtoJson(const google::protobuf::Message& message);

void SetModelSpec(const ModelRef& model, tensorflow::serving::ModelSpec* spec);
ModelMetadata MetadataFromTfs(const tensorflow::serving::ModelSpec& spec,
                              const tensorflow::serving::SignatureDefMap& signatures);
// KServe v2 metadata as one signature named `signature` ("" means serving_default).
ModelMetadata MetadataFromKServe(const inference::ModelMetadataResponse& response, const std::string& signature);
ModelStatus StatusFromTfs(const tensorflow::serving::GetModelStatusResponse& response);

}  // namespace savant::clients
