// KServe v2 / Open Inference Protocol (package inference) on top of the shared PredictPath: tensor
// conversion between InferTensorContents / raw_*_contents and engine tensors, and the six
// GRPCInferenceService methods. A TensorFlow model appears as one KServe model whose inputs and
// outputs are the aliases of its serving_default signature (a request parameter "signature_name"
// picks another).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"
#include "kserve/grpc_predict_v2.pb.h"
#include "server/predict_path.h"

namespace savant::server {

// The KServe datatype of `dtype` ("FP32", "INT64", "BYTES", ...); "" when there is none.
absl::string_view KServeDatatype(engine::DataType dtype);
// INVALID_ARGUMENT listing the known names for an unknown datatype.
absl::StatusOr<engine::DataType> DataTypeFromKServe(absl::string_view datatype);

// Builds an input tensor from its typed contents, or from `raw` (little-endian element bytes; for
// BYTES each element is a 4-byte little-endian length and the bytes) when `raw` is not null.
// INVALID_ARGUMENT naming the input when the element count, the byte count or the contents field
// does not match the datatype and shape.
absl::StatusOr<engine::Tensor> TensorFromKServe(const inference::ModelInferRequest::InferInputTensor& input,
                                                const std::string* raw);

// Fills name-independent fields of `output` (datatype, shape) and either its typed contents
// (`raw` null) or `raw`. FP16 and BF16 have no typed field; callers use raw for them.
void TensorToKServe(const engine::Tensor& tensor, inference::ModelInferResponse::InferOutputTensor* output,
                    std::string* raw);

// GRPCInferenceService methods. Errors follow the shared path: NOT_FOUND for unknown models and
// versions, INVALID_ARGUMENT for malformed tensors, FAILED_PRECONDITION for unknown signatures.
absl::Status KServeModelReady(const PredictPath& path, const inference::ModelReadyRequest& request,
                              inference::ModelReadyResponse* response);
void KServeServerMetadata(inference::ServerMetadataResponse* response);
absl::Status KServeModelMetadata(const PredictPath& path, const inference::ModelMetadataRequest& request,
                                 inference::ModelMetadataResponse* response);
absl::Status KServeModelInfer(const PredictPath& path, const inference::ModelInferRequest& request,
                              inference::ModelInferResponse* response);

}  // namespace savant::server
