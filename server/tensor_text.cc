#include "server/tensor_text.h"

#include "engine/tensor_proto.h"
#include "proto/codec/tensor_text.h"
#include "tensorflow/core/example/example.pb.h"

namespace savant::server {

absl::StatusOr<engine::Tensor> ParseTensorLiteral(absl::string_view text, engine::DataType dtype) {
  // engine::DataType values are TensorFlow's DataType enum values.
  auto proto = codec::LiteralToTensor(text, static_cast<tensorflow::DataType>(dtype));
  if (!proto.ok()) return proto.status();
  return engine::TensorFromProto(*proto);
}

absl::StatusOr<engine::Tensor> ReadNpy(const std::string& path) {
  auto proto = codec::ReadNpy(path);
  if (!proto.ok()) return proto.status();
  return engine::TensorFromProto(*proto);
}

absl::StatusOr<engine::Tensor> ParseExamples(absl::string_view json) {
  auto input = codec::ExamplesFromJson(json);
  if (!input.ok()) return input.status();
  const auto& examples = input->example_list().examples();
  engine::Tensor t(engine::DataType::kString, engine::Shape{static_cast<int64_t>(examples.size())});
  auto out = t.flat<std::string>();
  for (int i = 0; i < examples.size(); ++i) examples[i].SerializeToString(&out[i]);
  return t;
}

absl::StatusOr<std::string> FormatTensor(const engine::Tensor& t) {
  tensorflow::TensorProto proto;
  engine::TensorToProto(t, &proto);
  return codec::TensorToJson(proto);
}

}  // namespace savant::server
