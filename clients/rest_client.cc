// ServingClient over HTTP: TensorFlow Serving's REST API (/v1/models/...) and the KServe v2 REST
// protocol (/v2/models/...). JSON answers are decoded into the same protos the gRPC client returns.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/client_impl.h"
#include "clients/http_client.h"
#include "google/protobuf/util/json_util.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tensorflow/core/example/example.pb.h"

namespace savant::clients {
namespace {

namespace tfs = tensorflow::serving;

std::string Quote(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ValueJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteNanAndInfFlag>
      w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// TensorFlow Serving's server writes "results"; its REST documentation shows "result". Accept both.
const rapidjson::Value* ResultList(const rapidjson::Document& doc) {
  for (const char* key : {"results", "result"}) {
    if (doc.HasMember(key) && doc[key].IsArray()) return &doc[key];
  }
  return nullptr;
}

absl::StatusOr<rapidjson::Document> ParseBody(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InternalError(absl::StrCat("the server's answer is not a JSON object: ", body.substr(0, 200)));
  }
  return doc;
}

template <typename Proto>
absl::Status JsonToProto(const std::string& json, Proto* proto) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto s = google::protobuf::util::JsonStringToMessage(json, proto, options);
  if (!s.ok()) return absl::InternalError(absl::StrCat("cannot decode the server's JSON: ", s.message().ToString()));
  return absl::OkStatus();
}

// TensorFlow Serving's REST form of one tf.Example: {"feature": [values]}.
std::string ExampleJson(const tensorflow::Example& example) {
  std::map<std::string, const tensorflow::Feature*> sorted;
  for (const auto& [k, f] : example.features().feature()) sorted[k] = &f;
  std::string out = "{";
  for (const auto& [k, f] : sorted) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, Quote(k), ":[");
    std::vector<std::string> vals;
    if (f->has_float_list()) {
      // Always with a '.' or exponent: the server reads 1 as an int64 feature, 1.0 as a float one.
      for (float v : f->float_list().value()) {
        char buf[32];
        std::string text(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
        if (!std::isfinite(v)) text = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
        else if (text.find_first_of(".e") == std::string::npos) text += ".0";
        vals.push_back(std::move(text));
      }
    } else if (f->has_int64_list()) {
      for (int64_t v : f->int64_list().value()) vals.push_back(absl::StrCat(v));
    } else {
      for (const auto& v : f->bytes_list().value()) vals.push_back(Quote(v));
    }
    absl::StrAppend(&out, absl::StrJoin(vals, ","), "]");
  }
  out.push_back('}');
  return out;
}

std::string ExamplesBody(const ModelRef& model, const tfs::Input& input) {
  std::string body = "{";
  if (!model.signature.empty()) absl::StrAppend(&body, "\"signature_name\":", Quote(model.signature), ",");
  body.append("\"examples\":[");
  const auto& examples = input.has_example_list_with_context() ? input.example_list_with_context().examples()
                                                                 : input.example_list().examples();
  for (int i = 0; i < examples.size(); ++i) absl::StrAppend(&body, i ? "," : "", ExampleJson(examples.Get(i)));
  body.append("]}");
  return body;
}

absl::StatusOr<std::string> PredictBody(const ModelRef& model, const NamedTensors& inputs, Api api) {
  std::string body = "{";
  if (api == Api::kKServe) {
    if (!model.signature.empty()) {
      absl::StrAppend(&body, "\"parameters\":{\"signature_name\":", Quote(model.signature), "},");
    }
    body.append("\"inputs\":[");
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto in = KServeJsonInput(inputs[i].first, inputs[i].second);
      if (!in.ok()) return in.status();
      absl::StrAppend(&body, i ? "," : "", *in);
    }
    body.append("]}");
    return body;
  }
  if (!model.signature.empty()) absl::StrAppend(&body, "\"signature_name\":", Quote(model.signature), ",");
  body.append("\"inputs\":{");
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto value = TensorToJson(inputs[i].second);
    if (!value.ok()) return value.status();
    absl::StrAppend(&body, i ? "," : "", Quote(inputs[i].first), ":", *value);
  }
  body.append("}}");
  return body;
}

class RestPreparedCall : public PreparedCall {
 public:
  RestPreparedCall(const Target& target, std::string path, std::string body)
      : connection_(target.host, target.port, target.timeout), path_(std::move(path)), body_(std::move(body)) {}
  absl::Status Connect() override { return connection_.Connect(); }
  absl::Status Send() override {
    auto r = connection_.Send("POST", path_, body_);
    if (!r.ok()) return r.status();
    if (r->status != 200) return StatusFromHttp(r->status, r->body);
    return absl::OkStatus();
  }

 private:
  HttpConnection connection_;
  std::string path_;
  std::string body_;
};

class RestClient : public ServingClient {
 public:
  explicit RestClient(const Target& target) : target_(target), http_(target.host, target.port, target.timeout) {}

  absl::StatusOr<ModelMetadata> Metadata(const ModelRef& model) override {
    auto r = Get(Base(model) + (target_.api == Api::kKServe ? "" : "/metadata"));
    if (!r.ok()) return r.status();
    auto doc = ParseBody(*r);
    if (!doc.ok()) return doc.status();
    if (target_.api == Api::kKServe) {
      inference::ModelMetadataResponse res;
      absl::Status s = JsonToProto(*r, &res);
      if (!s.ok()) return s;
      return MetadataFromKServe(res, model.signature);
    }
    tfs::ModelSpec spec;
    tfs::SignatureDefMap signatures;
    if (doc->HasMember("model_spec")) {
      absl::Status s = JsonToProto(ValueJson((*doc)["model_spec"]), &spec);
      if (!s.ok()) return s;
    }
    if (doc->HasMember("metadata") && (*doc)["metadata"].IsObject() && (*doc)["metadata"].HasMember("signature_def")) {
      absl::Status s = JsonToProto(ValueJson((*doc)["metadata"]["signature_def"]), &signatures);
      if (!s.ok()) return s;
    }
    metadata_ = MetadataFromTfs(spec, signatures);
    metadata_key_ = Base(model);
    return metadata_;
  }

  absl::StatusOr<ModelStatus> Status(const ModelRef& model) override {
    if (target_.api == Api::kKServe) {
      auto r = http_.Send("GET", Base(model) + "/ready", "");
      if (!r.ok()) return r.status();
      auto doc = ParseBody(r->body);
      // 200 ready; 400 with {"ready": false} not ready; anything else is an error.
      if (r->status != 200 && !(r->status == 400 && doc.ok() && doc->HasMember("ready"))) {
        return StatusFromHttp(r->status, r->body);
      }
      const bool ready = r->status == 200;
      ModelStatus st;
      st.available = ready;
      st.versions.push_back({model.version.value_or(0), ready ? "READY" : "NOT_READY", ""});
      st.json = absl::StrCat("{\"name\":", Quote(model.name), ",\"ready\":", ready ? "true" : "false", "}");
      return st;
    }
    auto r = Get(Base(model));
    if (!r.ok()) return r.status();
    tfs::GetModelStatusResponse res;
    absl::Status s = JsonToProto(*r, &res);
    if (!s.ok()) return s;
    return StatusFromTfs(res);
  }

  absl::StatusOr<PredictResult> Predict(const ModelRef& model, const NamedTensors& inputs) override {
    auto body = PredictBody(model, inputs, target_.api);
    if (!body.ok()) return body.status();
    const bool kserve = target_.api == Api::kKServe;
    auto r = Post(Base(model) + (kserve ? "/infer" : ":predict"), *body);
    if (!r.ok()) return r.status();
    auto doc = ParseBody(*r);
    if (!doc.ok()) return doc.status();
    PredictResult result;
    result.model = model.name;
    if (kserve) {
      if (doc->HasMember("model_version") && (*doc)["model_version"].IsString()) {
        (void)absl::SimpleAtoi((*doc)["model_version"].GetString(), &result.version);
      }
      if (!doc->HasMember("outputs") || !(*doc)["outputs"].IsArray()) {
        return absl::InternalError("the infer answer has no \"outputs\" array");
      }
      for (const auto& out : (*doc)["outputs"].GetArray()) {
        if (!out.IsObject() || !out.HasMember("name") || !out.HasMember("datatype") || !out.HasMember("data") ||
            !out.HasMember("shape")) {
          return absl::InternalError("an infer output lacks name, datatype, shape or data");
        }
        const std::string name = out["name"].GetString();
        auto t = JsonToTensor(out["data"], FromKServeDatatype(out["datatype"].GetString()));
        if (!t.ok()) return absl::InternalError(absl::StrCat("output \"", name, "\": ", t.status().message()));
        t->clear_tensor_shape();
        for (const auto& d : out["shape"].GetArray()) t->mutable_tensor_shape()->add_dim()->set_size(d.GetInt64());
        result.outputs.emplace_back(name, *std::move(t));
      }
    } else {
      // Output dtypes come from the signature: JSON numbers do not say float or int.
      auto sig = SignatureFor(model);
      if (!sig.ok()) return sig.status();
      if (!doc->HasMember("outputs")) return absl::InternalError("the predict answer has no \"outputs\"");
      const rapidjson::Value& outputs = (*doc)["outputs"];
      auto dtype_of = [&](const std::string& name) {
        for (const auto& o : sig->outputs) {
          if (o.name == name) return o.dtype;
        }
        return tensorflow::DT_FLOAT;
      };
      // One output comes back bare, several as an object keyed by alias (TF Serving's columnar form).
      if (outputs.IsObject() && !(sig->outputs.size() == 1 && outputs.HasMember("b64"))) {
        for (const auto& m : outputs.GetObject()) {
          const std::string name = m.name.GetString();
          auto t = JsonToTensor(m.value, dtype_of(name));
          if (!t.ok()) return absl::InternalError(absl::StrCat("output \"", name, "\": ", t.status().message()));
          result.outputs.emplace_back(name, *std::move(t));
        }
      } else {
        const std::string name = sig->outputs.size() == 1 ? sig->outputs[0].name : "outputs";
        auto t = JsonToTensor(outputs, dtype_of(name));
        if (!t.ok()) return absl::InternalError(absl::StrCat("output \"", name, "\": ", t.status().message()));
        result.outputs.emplace_back(name, *std::move(t));
      }
    }
    std::sort(result.outputs.begin(), result.outputs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return result;
  }

  absl::StatusOr<tfs::ClassificationResult> Classify(const ModelRef& model, const tfs::Input& input) override {
    if (target_.api == Api::kKServe) return absl::UnimplementedError("KServe v2 has no classify call");
    auto r = Post(Base(model) + ":classify", ExamplesBody(model, input));
    if (!r.ok()) return r.status();
    auto doc = ParseBody(*r);
    if (!doc.ok()) return doc.status();
    const rapidjson::Value* list = ResultList(*doc);
    if (list == nullptr) return absl::InternalError("the classify answer has no \"results\" list");
    tfs::ClassificationResult result;
    for (const auto& per_example : list->GetArray()) {
      auto* c = result.add_classifications();
      if (!per_example.IsArray()) return absl::InternalError("a classify result is not a list");
      for (const auto& pair : per_example.GetArray()) {
        if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsString() || !pair[1].IsNumber()) {
          return absl::InternalError("a class is not a [label, score] pair");
        }
        auto* cls = c->add_classes();
        cls->set_label(pair[0].GetString());
        cls->set_score(static_cast<float>(pair[1].GetDouble()));
      }
    }
    return result;
  }

  absl::StatusOr<tfs::RegressionResult> Regress(const ModelRef& model, const tfs::Input& input) override {
    if (target_.api == Api::kKServe) return absl::UnimplementedError("KServe v2 has no regress call");
    auto r = Post(Base(model) + ":regress", ExamplesBody(model, input));
    if (!r.ok()) return r.status();
    auto doc = ParseBody(*r);
    if (!doc.ok()) return doc.status();
    const rapidjson::Value* list = ResultList(*doc);
    if (list == nullptr) return absl::InternalError("the regress answer has no \"results\" list");
    tfs::RegressionResult result;
    for (const auto& v : list->GetArray()) {
      if (!v.IsNumber()) return absl::InternalError("a regression result is not a number");
      result.add_regressions()->set_value(static_cast<float>(v.GetDouble()));
    }
    return result;
  }

  absl::Status Reload(const tfs::ModelServerConfig&) override {
    return absl::UnimplementedError(
        "TensorFlow Serving's REST API has no config reload call (HandleReloadConfigRequest is gRPC only)");
  }

  absl::StatusOr<std::unique_ptr<PreparedCall>> PreparePredict(const ModelRef& model,
                                                               const NamedTensors& inputs) override {
    auto body = PredictBody(model, inputs, target_.api);
    if (!body.ok()) return body.status();
    return std::make_unique<RestPreparedCall>(
        target_, Base(model) + (target_.api == Api::kKServe ? "/infer" : ":predict"), *std::move(body));
  }

 private:
  std::string Base(const ModelRef& model) const {
    std::string name;
    for (char c : model.name) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
        name.push_back(c);
      } else {
        absl::StrAppend(&name, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
      }
    }
    if (target_.api == Api::kKServe) {
      return absl::StrCat("/v2/models/", name, model.version ? absl::StrCat("/versions/", *model.version) : "");
    }
    std::string base = absl::StrCat("/v1/models/", name);
    if (model.version) absl::StrAppend(&base, "/versions/", *model.version);
    if (!model.label.empty()) absl::StrAppend(&base, "/labels/", model.label);
    return base;
  }

  absl::StatusOr<std::string> Get(const std::string& path) { return Call("GET", path, ""); }
  absl::StatusOr<std::string> Post(const std::string& path, const std::string& body) {
    return Call("POST", path, body);
  }
  // The body of a 200 answer; any other status as the error it stands for.
  absl::StatusOr<std::string> Call(const std::string& method, const std::string& path, const std::string& body) {
    auto r = http_.Send(method, path, body);
    if (!r.ok()) return r.status();
    if (r->status != 200) return StatusFromHttp(r->status, r->body);
    return std::move(r->body);
  }

  // The signature a predict answer belongs to, from the metadata (fetched once per model path).
  absl::StatusOr<SignatureInfo> SignatureFor(const ModelRef& model) {
    const std::string key = Base(model);
    if (key != metadata_key_) {
      auto md = Metadata(model);
      if (!md.ok()) return md.status();
      metadata_ = *std::move(md);
      metadata_key_ = key;
    }
    return FindSignature(metadata_, model.signature);
  }

  Target target_;
  HttpConnection http_;
  std::string metadata_key_;
  ModelMetadata metadata_;
};

}  // namespace

std::unique_ptr<ServingClient> MakeRestClient(const Target& target) { return std::make_unique<RestClient>(target); }

}  // namespace savant::clients
