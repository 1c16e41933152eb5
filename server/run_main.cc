// `savant run`: loads a SavedModel and runs one signature, like `saved_model_cli run`.
//   savant run DIR --signature_def serving_default --inputs 'x=[[1.0],[2.0],[5.0]]'
//   savant run DIR --inputs 'x=input.npy'          (NumPy file)
//   savant run DIR --signature_def regress_x_to_y --input_examples 'inputs=[{"x":[1.0]}]'
//   savant run DIR --random_inputs=8 --benchmark=1000 --threads=1
#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"
#include "engine/base/thread_pool.h"
#include "loader/model.h"
#include "server/tensor_text.h"
#include "server/tools.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Tensor;

constexpr char kUsage[] =
    "usage: savant run DIR [--tag_set serve] [--signature_def serving_default]\n"
    "         [--inputs 'x=[[1.0]];y=file.npy'] [--input_exprs 'x=[[1.0]]']\n"
    "         [--input_examples 'inputs=[{\"x\":[1.0]}]']\n"
    "         [--random_inputs=BATCH --benchmark=ITERATIONS --threads=N]\n";

struct RunArgs {
  std::string dir;
  std::string tag_set = "serve";
  std::string signature = "serving_default";
  std::vector<std::pair<std::string, std::string>> inputs;  // alias -> literal or .npy path
  std::vector<std::pair<std::string, std::string>> exprs;   // alias -> literal
  std::vector<std::pair<std::string, std::string>> examples;
  int64_t random_batch = 0;
  int64_t benchmark = 0;
  int threads = 0;
};

// "a=1;b=2" -> {(a,1),(b,2)}; the value may contain '=' and ';' inside brackets or quotes.
std::vector<std::pair<std::string, std::string>> SplitAssignments(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  auto flush = [&] {
    auto eq = cur.find('=');
    if (eq != std::string::npos) out.emplace_back(cur.substr(0, eq), cur.substr(eq + 1));
    cur.clear();
  };
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '[' || c == '{')) depth++;
    if (!quoted && (c == ']' || c == '}')) depth--;
    if (c == ';' && depth == 0 && !quoted) {
      flush();
      continue;
    }
    cur.push_back(c);
  }
  if (!cur.empty()) flush();
  return out;
}

bool ParseArgs(int argc, char** argv, RunArgs* args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto take = [&](const std::string& flag) -> bool {
      if (a == flag && i + 1 < argc) {
        value = argv[++i];
        return true;
      }
      if (a.rfind(flag + "=", 0) == 0) {
        value = a.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--dir")) {
      args->dir = value;
    } else if (take("--tag_set")) {
      args->tag_set = value;
    } else if (take("--signature_def")) {
      args->signature = value;
    } else if (take("--inputs")) {
      for (auto& kv : SplitAssignments(value)) args->inputs.push_back(kv);
    } else if (take("--input_exprs")) {
      for (auto& kv : SplitAssignments(value)) args->exprs.push_back(kv);
    } else if (take("--input_examples")) {
      for (auto& kv : SplitAssignments(value)) args->examples.push_back(kv);
    } else if (take("--random_inputs")) {
      args->random_batch = std::stoll(value);
    } else if (take("--benchmark")) {
      args->benchmark = std::stoll(value);
    } else if (take("--threads")) {
      args->threads = std::stoi(value);
    } else if (!a.empty() && a[0] != '-' && args->dir.empty()) {
      args->dir = a;
    } else {
      std::cerr << "savant run: unknown argument " << a << "\n" << kUsage;
      return false;
    }
  }
  if (args->dir.empty()) {
    std::cerr << kUsage;
    return false;
  }
  return true;
}

Tensor RandomTensor(const loader::TensorBinding& b, int64_t batch, std::mt19937& rng) {
  engine::Shape shape;
  if (b.shape.unknown_rank()) {
    shape = engine::Shape{batch};
  } else {
    for (int64_t d : b.shape.dims()) shape.AddDim(d < 0 ? batch : d);
  }
  Tensor t(b.dtype, shape);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 9);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    switch (b.dtype) {
      case DataType::kFloat: t.data<float>()[i] = uni(rng); break;
      case DataType::kDouble: t.data<double>()[i] = uni(rng); break;
      case DataType::kInt32: t.data<int32_t>()[i] = small(rng); break;
      case DataType::kInt64: t.data<int64_t>()[i] = small(rng); break;
      case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(small(rng)); break;
      case DataType::kBool: t.data<bool>()[i] = small(rng) % 2; break;
      case DataType::kString: t.data<std::string>()[i] = ""; break;
      default: break;
    }
  }
  return t;
}

}  // namespace

int RunMain(int argc, char** argv) {
  RunArgs args;
  if (!ParseArgs(argc, argv, &args)) return 2;
  if (args.threads > 0) ThreadPool::SetDefaultThreadCount(args.threads);
  loader::ModelOptions options;
  options.tags.clear();
  for (auto t : absl::StrSplit(args.tag_set, ',')) options.tags.insert(std::string(t));
  auto start = std::chrono::steady_clock::now();
  auto model = loader::Model::Load(args.dir, options);
  if (!model.ok()) {
    std::cerr << "savant run: " << model.status().message() << "\n";
    return 1;
  }
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto sig = (*model)->FindSignature(args.signature);
  if (!sig.ok()) {
    std::cerr << "savant run: " << sig.status().message() << "\n";
    return 1;
  }
  auto dtype_of = [&](const std::string& alias) -> absl::StatusOr<DataType> {
    for (const auto& b : (*sig)->inputs) {
      if (b.alias == alias) return b.dtype;
    }
    return absl::InvalidArgumentError(absl::StrCat("signature \"", args.signature,
                                                   "\" has no input \"", alias, "\""));
  };
  loader::NamedTensors inputs;
  auto fail = [](const absl::Status& st) {
    std::cerr << "savant run: " << st.message() << "\n";
    return 1;
  };
  for (const auto& [alias, value] : args.inputs) {
    auto dtype = dtype_of(alias);
    if (!dtype.ok()) return fail(dtype.status());
    bool literal = !value.empty() && (value[0] == '[' || value[0] == '"' || value[0] == '-' ||
                                      std::isdigit(static_cast<unsigned char>(value[0])) ||
                                      value == "true" || value == "false");
    auto t = literal ? ParseTensorLiteral(value, *dtype) : ReadNpy(value);
    if (!t.ok()) return fail(absl::Status(t.status().code(), absl::StrCat("input \"", alias, "\": ", t.status().message())));
    inputs.emplace_back(alias, *std::move(t));
  }
  for (const auto& [alias, value] : args.exprs) {
    auto dtype = dtype_of(alias);
    if (!dtype.ok()) return fail(dtype.status());
    auto t = ParseTensorLiteral(value, *dtype);
    if (!t.ok()) return fail(absl::Status(t.status().code(), absl::StrCat("input \"", alias, "\": ", t.status().message())));
    inputs.emplace_back(alias, *std::move(t));
  }
  for (const auto& [alias, value] : args.examples) {
    auto t = ParseExamples(value);
    if (!t.ok()) return fail(absl::Status(t.status().code(), absl::StrCat("input \"", alias, "\": ", t.status().message())));
    inputs.emplace_back(alias, *std::move(t));
  }
  if (args.random_batch > 0) {
    std::mt19937 rng(42);
    inputs.clear();
    for (const auto& b : (*sig)->inputs) inputs.emplace_back(b.alias, RandomTensor(b, args.random_batch, rng));
  }

  if (args.benchmark > 0) {
    for (int i = 0; i < std::min<int64_t>(args.benchmark / 10 + 1, 100); ++i) {
      auto r = (*model)->Run(args.signature, inputs);
      if (!r.ok()) return fail(r.status());
    }
    std::vector<double> us;
    us.reserve(args.benchmark);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < args.benchmark; ++i) {
      auto s = std::chrono::steady_clock::now();
      auto r = (*model)->Run(args.signature, inputs);
      if (!r.ok()) return fail(r.status());
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
    }
    double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(us.begin(), us.end());
    double p50 = us[us.size() / 2];
    double p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    int64_t batch = args.random_batch > 0 ? args.random_batch : 1;
    std::cout << "load_ms=" << load_ms << " iterations=" << args.benchmark << "\n";
    std::cout << "p50_us=" << p50 << " p99_us=" << p99
              << " samples_per_s=" << (static_cast<double>(batch) * args.benchmark / total_s) << "\n";
    return 0;
  }

  auto outputs = (*model)->Run(args.signature, inputs);
  if (!outputs.ok()) return fail(outputs.status());
  for (const auto& [alias, t] : *outputs) {
    auto text = FormatTensor(t);
    if (!text.ok()) return fail(absl::Status(text.status().code(), absl::StrCat("output \"", alias, "\": ", text.status().message())));
    std::cout << "Result for output key " << alias << ":\n" << *text << "\n";
  }
  return 0;
}

}  // namespace savant::server
