// savant-cli: predict, classify, regress, metadata, status and reload against a running Savant (or
// TensorFlow Serving / KServe v2) server, over gRPC or REST. Uses proto/ only.
//   savant-cli predict --server 127.0.0.1:8500 --model half_plus_two --inputs 'x=[[1.0],[2.0],[5.0]]'
//   savant-cli status --server 127.0.0.1:8501 --protocol rest --model half_plus_two
#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/serving_client.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace savant::clients {
namespace {

constexpr char kUsage[] = R"(usage: savant-cli COMMAND [flags]

commands:
  predict    run a signature: --inputs 'x=[[1.0],[2.0]]' (also x=@file.npy, x=@file.json, @inputs.json)
  classify   TensorFlow Serving Classify: --examples '[{"x": [1.0]}, ...]' (or @file.json)
  regress    TensorFlow Serving Regress: --examples as for classify
  metadata   signatures with their inputs and outputs (KServe: model metadata)
  status     version states (KServe: model ready); exit code 3 when no version is AVAILABLE
  reload     send a ModelServerConfig (text format) with --config FILE (gRPC, TensorFlow Serving API)

flags:
  --server HOST:PORT         default 127.0.0.1:8500 (gRPC) or 127.0.0.1:8501 (REST)
  --protocol grpc|rest       default grpc
  --api tfserving|kserve     default tfserving (KServe v2: infer, model metadata, model ready)
  --model NAME               required except for reload
  --version N | --label L    a version or a version label (default: the latest)
  --signature NAME           default serving_default
  --inputs SPEC              predict inputs, ';'-separated, as `savant run --inputs`
  --examples JSON|@FILE      classify/regress inputs as a list of tf.Example feature objects
  --config FILE              reload: a ModelServerConfig in text format
  --output json|table        default json
  --timeout SECONDS          per call, default 30

exit codes:
  0  success
  1  other error (INTERNAL, UNIMPLEMENTED, ...)
  2  usage: bad flags, unparsable inputs, or a call the chosen API does not have
  3  server unavailable, unreachable or too slow (UNAVAILABLE, DEADLINE_EXCEEDED); status: not AVAILABLE
  4  not found (NOT_FOUND: unknown model or version)
  5  request rejected (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, RESOURCE_EXHAUSTED)
errors print one line on stderr: "savant-cli: CODE: message".
)";

struct Flags {
  std::string command;
  Target target;
  ModelRef model;
  std::string server;
  std::string inputs;
  std::string examples;
  std::string config;
  std::string output = "json";
};

int Fail(int code, const std::string& message) {
  std::cerr << "savant-cli: " << message << "\n";
  return code;
}

int ExitCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 0;
    case absl::StatusCode::kNotFound: return 4;
    case absl::StatusCode::kUnavailable: case absl::StatusCode::kDeadlineExceeded: return 3;
    case absl::StatusCode::kInvalidArgument: case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: case absl::StatusCode::kResourceExhausted:
      return 5;
    default: return 1;
  }
}

int FailStatus(const absl::Status& s) {
  std::string message(s.message());
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return Fail(ExitCode(s.code()), absl::StrCat(absl::StatusCodeToString(s.code()), ": ", message));
}

// Empty on success, else the usage error.
std::string ParseFlags(int argc, char** argv, Flags* f) {
  std::string protocol = "grpc", api = "tfserving", timeout;
  std::string version;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "help") {
      f->command = "help";
      return "";
    }
    if (a.rfind("--", 0) != 0) {
      if (!f->command.empty()) return absl::StrCat("unexpected argument \"", a, "\"");
      f->command = a;
      continue;
    }
    std::string name, value;
    if (std::string error = NextFlag(argc, argv, &i, &name, &value); !error.empty()) return error;
    static const std::map<std::string, int> kFlags = {
        {"server", 0}, {"protocol", 1}, {"api", 2},  {"model", 3},    {"version", 4}, {"label", 5},  {"signature", 6},
        {"inputs", 7}, {"examples", 8}, {"config", 9}, {"output", 10}, {"timeout", 11}};
    auto it = kFlags.find(name);
    if (it == kFlags.end()) return absl::StrCat("unknown flag --", name);
    switch (it->second) {
      case 0: f->server = value; break;
      case 1: protocol = value; break;
      case 2: api = value; break;
      case 3: f->model.name = value; break;
      case 4: version = value; break;
      case 5: f->model.label = value; break;
      case 6: f->model.signature = value; break;
      case 7: f->inputs = value; break;
      case 8: f->examples = value; break;
      case 9: f->config = value; break;
      case 10: f->output = value; break;
      case 11: timeout = value; break;
    }
  }
  static const char* kCommands[] = {"predict", "classify", "regress", "metadata", "status", "reload"};
  if (f->command.empty()) return "missing COMMAND";
  if (std::find(std::begin(kCommands), std::end(kCommands), f->command) == std::end(kCommands)) {
    return absl::StrCat("unknown command \"", f->command, "\"; expected predict, classify, regress, metadata, status or reload");
  }
  if (protocol == "grpc") {
    f->target.protocol = Protocol::kGrpc;
  } else if (protocol == "rest") {
    f->target.protocol = Protocol::kRest;
  } else {
    return absl::StrCat("--protocol \"", protocol, "\": expected grpc or rest");
  }
  if (api == "tfserving") {
    f->target.api = Api::kTfServing;
  } else if (api == "kserve") {
    f->target.api = Api::kKServe;
  } else {
    return absl::StrCat("--api \"", api, "\": expected tfserving or kserve");
  }
  if (f->output != "json" && f->output != "table") return absl::StrCat("--output \"", f->output, "\": expected json or table");
  f->target.port = f->target.protocol == Protocol::kGrpc ? 8500 : 8501;
  if (!f->server.empty()) {
    auto colon = f->server.rfind(':');
    if (colon == std::string::npos || !absl::SimpleAtoi(f->server.substr(colon + 1), &f->target.port)) {
      return absl::StrCat("--server \"", f->server, "\": expected HOST:PORT");
    }
    f->target.host = f->server.substr(0, colon);
    if (f->target.host.size() > 2 && f->target.host.front() == '[') {
      f->target.host = f->target.host.substr(1, f->target.host.size() - 2);
    }
  }
  if (!version.empty()) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(version, &v) || v < 0) return absl::StrCat("--version \"", version, "\": expected a number");
    f->model.version = v;
  }
  if (f->model.version && !f->model.label.empty()) return "--version and --label are exclusive";
  if (!timeout.empty()) {
    double s = 0;
    if (!absl::SimpleAtod(timeout, &s) || s <= 0) return absl::StrCat("--timeout \"", timeout, "\": expected seconds > 0");
    f->target.timeout = absl::Seconds(s);
  }
  if (f->command != "reload" && f->model.name.empty()) return absl::StrCat(f->command, " needs --model NAME");
  if (f->command == "predict" && f->inputs.empty()) return "predict needs --inputs";
  if ((f->command == "classify" || f->command == "regress") && f->examples.empty()) {
    return absl::StrCat(f->command, " needs --examples");
  }
  if (f->command == "reload" && f->config.empty()) return "reload needs --config FILE";
  if (f->target.api == Api::kKServe) {
    if (f->command == "classify" || f->command == "regress" || f->command == "reload") {
      return absl::StrCat("KServe v2 has no ", f->command, " call; use --api tfserving");
    }
    if (!f->model.label.empty()) return "KServe v2 has no version labels; use --version";
  }
  if (f->command == "reload" && f->target.protocol == Protocol::kRest) {
    return "reload is gRPC only (TensorFlow Serving's REST API has no HandleReloadConfigRequest); use --protocol grpc";
  }
  return "";
}

std::string FloatText(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string ShapeText(const std::vector<int64_t>& shape, bool unknown_rank = false) {
  if (unknown_rank) return "unknown";
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// Columns padded to their widest cell.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

int RunPredict(ServingClient& client, const Flags& f) {
  auto values = ParseInputsFlag(f.inputs);
  if (!values.ok()) return Fail(2, absl::StrCat("INVALID_ARGUMENT: ", values.status().message()));
  // Literal inputs take their dtype from the signature, as `savant run` does.
  auto metadata = client.Metadata(f.model);
  if (!metadata.ok()) return FailStatus(metadata.status());
  auto signature = FindSignature(*metadata, f.model.signature);
  if (!signature.ok()) return FailStatus(signature.status());
  auto inputs = BuildInputs(*values, *signature);
  if (!inputs.ok()) return Fail(2, absl::StrCat("INVALID_ARGUMENT: ", inputs.status().message()));
  auto result = client.Predict(f.model, *inputs);
  if (!result.ok()) return FailStatus(result.status());
  std::vector<std::vector<std::string>> rows = {{"output", "dtype", "shape", "value"}};
  std::string json = absl::StrCat("{\"model\":", JsonQuote(result->model));
  if (result->version > 0) absl::StrAppend(&json, ",\"version\":", result->version);
  json.append(",\"outputs\":{");
  bool first = true;
  for (const auto& [name, t] : result->outputs) {
    auto value = TensorToJson(t);
    if (!value.ok()) return FailStatus(value.status());
    const std::string dtype = DataTypeName(t.dtype());
    const std::string shape = ShapeText(TensorShape(t));
    absl::StrAppend(&json, first ? "" : ",", JsonQuote(name), ":{\"dtype\":\"", dtype, "\",\"shape\":", shape,
                    ",\"value\":", *value, "}");
    first = false;
    rows.push_back({name, dtype, shape, *value});
  }
  json.append("}}");
  if (f.output == "table") {
    PrintTable(rows);
  } else {
    std::cout << json << "\n";
  }
  return 0;
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open \"", path, "\""));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int RunExamples(ServingClient& client, const Flags& f) {
  std::string text = f.examples;
  if (!text.empty() && text[0] == '@') {
    auto file = ReadText(text.substr(1));
    if (!file.ok()) return Fail(2, absl::StrCat("INVALID_ARGUMENT: --examples: ", file.status().message()));
    text = *file;
  }
  auto input = ExamplesFromJson(text);
  if (!input.ok()) return Fail(2, absl::StrCat("INVALID_ARGUMENT: --examples: ", input.status().message()));
  std::vector<std::vector<std::string>> rows;
  std::string json = "{\"results\":[";
  if (f.command == "classify") {
    auto result = client.Classify(f.model, *input);
    if (!result.ok()) return FailStatus(result.status());
    rows.push_back({"example", "label", "score"});
    for (int i = 0; i < result->classifications_size(); ++i) {
      std::vector<std::string> classes;
      for (const auto& c : result->classifications(i).classes()) {
        classes.push_back(absl::StrCat("[", JsonQuote(c.label()), ",", FloatText(c.score()), "]"));
        rows.push_back({absl::StrCat(i), c.label(), FloatText(c.score())});
      }
      absl::StrAppend(&json, i ? "," : "", "[", absl::StrJoin(classes, ","), "]");
    }
  } else {
    auto result = client.Regress(f.model, *input);
    if (!result.ok()) return FailStatus(result.status());
    rows.push_back({"example", "value"});
    for (int i = 0; i < result->regressions_size(); ++i) {
      const std::string v = FloatText(result->regressions(i).value());
      absl::StrAppend(&json, i ? "," : "", v);
      rows.push_back({absl::StrCat(i), v});
    }
  }
  json.append("]}");
  if (f.output == "table") {
    PrintTable(rows);
  } else {
    std::cout << json << "\n";
  }
  return 0;
}

int RunMetadata(ServingClient& client, const Flags& f) {
  auto md = client.Metadata(f.model);
  if (!md.ok()) return FailStatus(md.status());
  if (f.output == "json") {
    std::cout << md->json << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"signature", "kind", "name", "dtype", "shape"}};
  for (const auto& s : md->signatures) {
    for (const auto& t : s.inputs) rows.push_back({s.key, "input", t.name, DataTypeName(t.dtype), ShapeText(t.shape, t.unknown_rank)});
    for (const auto& t : s.outputs) rows.push_back({s.key, "output", t.name, DataTypeName(t.dtype), ShapeText(t.shape, t.unknown_rank)});
  }
  PrintTable(rows);
  return 0;
}

int RunStatus(ServingClient& client, const Flags& f) {
  auto st = client.Status(f.model);
  if (!st.ok()) return FailStatus(st.status());
  if (f.output == "json") {
    std::cout << st->json << "\n";
  } else {
    std::vector<std::vector<std::string>> rows = {{"version", "state", "error"}};
    for (const auto& v : st->versions) rows.push_back({absl::StrCat(v.version), v.state, v.error});
    PrintTable(rows);
  }
  if (!st->available) {
    return Fail(3, absl::StrCat("UNAVAILABLE: model \"", f.model.name, "\" has no ",
                                f.target.api == Api::kKServe ? "ready" : "AVAILABLE", " version"));
  }
  return 0;
}

int RunReload(ServingClient& client, const Flags& f) {
  auto text = ReadText(f.config);
  if (!text.ok()) return Fail(2, absl::StrCat("INVALID_ARGUMENT: --config: ", text.status().message()));
  tensorflow::serving::ModelServerConfig config;
  // Collect the parser's complaint for the one-line message instead of letting protobuf log it.
  struct Collector : google::protobuf::io::ErrorCollector {
    void AddError(int line, int column, const std::string& message) override {
      if (first.empty()) first = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
    std::string first;
  } collector;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(*text, &config)) {
    return Fail(2, absl::StrCat("INVALID_ARGUMENT: --config \"", f.config,
                                "\" is not a ModelServerConfig in text format: ", collector.first));
  }
  absl::Status s = client.Reload(config);
  if (!s.ok()) return FailStatus(s);
  if (f.output == "json") {
    std::cout << "{\"status\":\"OK\",\"models\":" << config.model_config_list().config_size() << "}\n";
  } else {
    std::cout << "reloaded " << config.model_config_list().config_size() << " model(s)\n";
  }
  return 0;
}

int Main(int argc, char** argv) {
  Flags f;
  std::string error = ParseFlags(argc, argv, &f);
  if (f.command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (!error.empty()) return Fail(2, absl::StrCat("usage: ", error, " (see savant-cli --help)"));
  auto client = ServingClient::Create(f.target);
  if (!client.ok()) return Fail(2, absl::StrCat("usage: ", client.status().message()));
  if (f.command == "predict") return RunPredict(**client, f);
  if (f.command == "classify" || f.command == "regress") return RunExamples(**client, f);
  if (f.command == "metadata") return RunMetadata(**client, f);
  if (f.command == "status") return RunStatus(**client, f);
  return RunReload(**client, f);
}

}  // namespace
}  // namespace savant::clients

int main(int argc, char** argv) { return savant::clients::Main(argc, argv); }
