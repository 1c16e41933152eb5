// Every conversion of an absl::Status at the edge of the server, in one place: to grpc::Status
// (same code, same message), to TensorFlow Serving's StatusProto (GetModelStatus, reload
// responses), and to an HTTP status code plus the REST body {"error": "<message>"}. Messages are
// capped here, at the edge, so one oversized error cannot flood a client or a log.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"
#include "tensorflow_serving/util/status.pb.h"

namespace savant::server {

// Longest message sent to a client; longer ones are cut and end in "... (N bytes omitted)".
inline constexpr size_t kMaxErrorMessageBytes = 4096;

// `message` capped at kMaxErrorMessageBytes.
std::string CapMessage(absl::string_view message);

// The same code (absl and gRPC share numbering) and the capped message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for statuses that come back from gRPC calls (clients, tests).
absl::Status FromGrpcStatus(const grpc::Status& status);

// TensorFlow Serving's StatusProto: error_code (tensorflow.error.Code, which also shares the
// numbering) and error_message; both empty for OK.
tensorflow::serving::StatusProto ToStatusProto(const absl::Status& status);

// The HTTP status TensorFlow Serving's REST API answers with for `code`: 200 OK, 400
// INVALID_ARGUMENT / FAILED_PRECONDITION / OUT_OF_RANGE, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 ALREADY_EXISTS / ABORTED, 429 RESOURCE_EXHAUSTED,
// 499 CANCELLED, 501 UNIMPLEMENTED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, 500 otherwise.
int HttpStatusCode(absl::StatusCode code);

// The REST error body: {"error": "<capped message>"} with the message JSON-escaped.
std::string HttpErrorBody(const absl::Status& status);

}  // namespace savant::server
