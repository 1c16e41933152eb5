#include "tests/integration/grpc_test_util.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "loader/crc32c.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace fs = std::filesystem;

tensorflow::TensorProto FloatColumn(const std::vector<float>& values) {
  tensorflow::TensorProto t;
  t.set_dtype(tensorflow::DT_FLOAT);
  t.mutable_tensor_shape()->add_dim()->set_size(static_cast<int64_t>(values.size()));
  t.mutable_tensor_shape()->add_dim()->set_size(1);
  for (float v : values) t.add_float_val(v);
  return t;
}

std::vector<float> Floats(const tensorflow::TensorProto& proto) {
  if (!proto.tensor_content().empty()) {
    std::vector<float> out(proto.tensor_content().size() / sizeof(float));
    std::memcpy(out.data(), proto.tensor_content().data(), out.size() * sizeof(float));
    return out;
  }
  return {proto.float_val().begin(), proto.float_val().end()};
}

tensorflow::serving::Input ExampleInput(const std::string& key, const std::vector<float>& values) {
  tensorflow::serving::Input input;
  for (float v : values) {
    auto* example = input.mutable_example_list()->add_examples();
    (*example->mutable_features()->mutable_feature())[key].mutable_float_list()->add_value(v);
  }
  return input;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::StatusOr<rapidjson::Document> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError()) return absl::InvalidArgumentError(absl::StrCat("bad JSON in ", path.string()));
  return doc;
}

absl::Status JsonEqual(const rapidjson::Value& actual, const rapidjson::Value& expected, const std::string& path) {
  auto differ = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (actual.GetType() != expected.GetType()) {
    // true and false are distinct rapidjson types; compare them as booleans.
    if (!(actual.IsBool() && expected.IsBool())) return differ("different JSON types");
  }
  if (expected.IsObject()) {
    for (auto it = expected.MemberBegin(); it != expected.MemberEnd(); ++it) {
      const std::string key = it->name.GetString();
      if (!actual.HasMember(key.c_str())) return differ(absl::StrCat("missing key \"", key, "\""));
      absl::Status s = JsonEqual(actual[key.c_str()], it->value, absl::StrCat(path, ".", key));
      if (!s.ok()) return s;
    }
    for (auto it = actual.MemberBegin(); it != actual.MemberEnd(); ++it) {
      if (!expected.HasMember(it->name.GetString())) {
        return differ(absl::StrCat("unexpected key \"", it->name.GetString(), "\""));
      }
    }
    return absl::OkStatus();
  }
  if (expected.IsArray()) {
    if (actual.Size() != expected.Size()) {
      return differ(absl::StrCat("array of ", actual.Size(), " elements, expected ", expected.Size()));
    }
    for (rapidjson::SizeType i = 0; i < expected.Size(); ++i) {
      absl::Status s = JsonEqual(actual[i], expected[i], absl::StrCat(path, "[", i, "]"));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (expected.IsString()) {
    if (std::string(actual.GetString()) != expected.GetString()) {
      return differ(absl::StrCat("\"", actual.GetString(), "\" != expected \"", expected.GetString(), "\""));
    }
    return absl::OkStatus();
  }
  if (expected.IsBool()) return actual.GetBool() == expected.GetBool() ? absl::OkStatus() : differ("booleans differ");
  if (expected.IsNumber()) return actual.GetDouble() == expected.GetDouble() ? absl::OkStatus() : differ("numbers differ");
  return absl::OkStatus();  // both null
}

namespace {

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

bool Next(grpc::CompletionQueue& cq, void* expected) {
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok)) return false;
  return ok && tag == expected;
}

}  // namespace

absl::StatusOr<std::string> RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                                         const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, method, ToBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  return FromBuffer(response);
}

absl::StatusOr<std::vector<std::string>> ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* const kStart = reinterpret_cast<void*>(1);
  void* const kWrite = reinterpret_cast<void*>(2);
  void* const kDone = reinterpret_cast<void*>(3);
  void* const kRead = reinterpret_cast<void*>(4);
  void* const kFinish = reinterpret_cast<void*>(5);
  call->StartCall(kStart);
  if (!Next(cq, kStart)) return absl::UnavailableError("reflection: cannot start the call");
  // ServerReflectionRequest { list_services = "*" }: field 7, length-delimited.
  call->Write(ToBuffer(std::string("\x3a\x01*", 3)), kWrite);
  if (!Next(cq, kWrite)) return absl::UnavailableError("reflection: write failed");
  call->WritesDone(kDone);
  if (!Next(cq, kDone)) return absl::UnavailableError("reflection: writes-done failed");
  grpc::ByteBuffer response;
  call->Read(&response, kRead);
  const bool read_ok = Next(cq, kRead);
  grpc::Status status;
  call->Finish(&status, kFinish);
  Next(cq, kFinish);
  if (!read_ok) return absl::UnavailableError(absl::StrCat("reflection: no response: ", status.error_message()));

  // ServerReflectionResponse { list_services_response (6) { service (1) { name (1) } } }
  google::protobuf::UnknownFieldSet top;
  if (!top.ParseFromString(FromBuffer(response))) return absl::DataLossError("reflection: bad response");
  std::vector<std::string> names;
  for (int i = 0; i < top.field_count(); ++i) {
    if (top.field(i).number() != 6 || top.field(i).type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    google::protobuf::UnknownFieldSet list;
    list.ParseFromString(top.field(i).length_delimited());
    for (int j = 0; j < list.field_count(); ++j) {
      if (list.field(j).number() != 1) continue;
      google::protobuf::UnknownFieldSet service;
      service.ParseFromString(list.field(j).length_delimited());
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  return names;
}

absl::StatusOr<std::string> ReadHexGolden(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::string line, bytes;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::string digits;
    for (char c : line) {
      if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
    }
    if (digits.size() % 2 != 0) return absl::InvalidArgumentError(absl::StrCat("odd hex digits in: ", line));
    for (size_t i = 0; i < digits.size(); i += 2) {
      bytes.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    }
  }
  return bytes;
}

void WriteFileAtomically(const fs::path& path, const std::string& contents) {
  const fs::path tmp = path.parent_path() / (".tmp-" + path.filename().string());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  fs::rename(tmp, path);
}

void CopyDirAtomically(const fs::path& from, const fs::path& to) {
  const fs::path tmp = to.parent_path() / (".tmp-" + to.filename().string());
  CopyTree(from, tmp);
  fs::rename(tmp, to);
}

void WriteWarmupFile(const fs::path& version_dir, const std::vector<tensorflow::serving::PredictionLog>& logs) {
  // TFRecord framing, written here independently of the server's reader.
  auto le = [](uint64_t v, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return s;
  };
  std::string file;
  for (const auto& log : logs) {
    const std::string data = log.SerializeAsString();
    const std::string length = le(data.size(), 8);
    file += length;
    file += le(loader::crc32c::Mask(loader::crc32c::Value(length)), 4);
    file += data;
    file += le(loader::crc32c::Mask(loader::crc32c::Value(data)), 4);
  }
  fs::create_directories(version_dir / "assets.extra");
  WriteFileAtomically(version_dir / "assets.extra" / "tf_serving_warmup_requests", file);
}

}  // namespace savant::testing
