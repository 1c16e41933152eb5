#include "server/status_mapping.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace savant::server {
namespace {

using ::testing::EndsWith;

TEST(StatusMappingTest, GrpcKeepsCodeAndMessage) {
  grpc::Status s = ToGrpcStatus(absl::NotFoundError("Servable not found for request: Latest(m)"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Servable not found for request: Latest(m)");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromGrpcStatus(s), absl::NotFoundError("Servable not found for request: Latest(m)"));
}

TEST(StatusMappingTest, EveryCodeMapsToTheSameGrpcCode) {
  for (int c = 1; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(absl::Status(code, "x")).error_code()), c);
  }
}

TEST(StatusMappingTest, StatusProtoUsesTensorFlowCodes) {
  auto proto = ToStatusProto(absl::DataLossError("variables truncated"));
  EXPECT_EQ(proto.error_code(), tensorflow::error::DATA_LOSS);
  EXPECT_EQ(proto.error_message(), "variables truncated");
  auto ok = ToStatusProto(absl::OkStatus());
  EXPECT_EQ(ok.error_code(), tensorflow::error::OK);
  EXPECT_EQ(ok.error_message(), "");
}

TEST(StatusMappingTest, HttpCodesFollowTheTable) {
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusCode(absl::StatusCode::kInternal), 500);
}

TEST(StatusMappingTest, HttpBodyEscapesJson) {
  EXPECT_EQ(HttpErrorBody(absl::InvalidArgumentError("input \"x\":\n\tbad\\")),
            "{\"error\": \"input \\\"x\\\":\\n\\tbad\\\\\"}");
  EXPECT_EQ(HttpErrorBody(absl::InternalError(std::string("a\x01", 2))), "{\"error\": \"a\\u0001\"}");
}

TEST(StatusMappingTest, LongMessagesAreCapped) {
  std::string long_message(10000, 'x');
  grpc::Status s = ToGrpcStatus(absl::InvalidArgumentError(long_message));
  EXPECT_LT(s.error_message().size(), kMaxErrorMessageBytes + 64);
  EXPECT_THAT(s.error_message(), EndsWith("... (5904 bytes omitted)"));
}

}  // namespace
}  // namespace savant::server
