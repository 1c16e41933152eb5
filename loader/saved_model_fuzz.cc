// libFuzzer target for the SavedModel reader and the graph importer. The first byte chooses the
// format (odd: text, even: binary); the rest is the saved_model.pb(txt) content. Whatever parses is
// imported meta graph by meta graph (engine::Graph::Import with the model's function library), and
// printed as `savant inspect` would print it, including the DOT of every signature. Nothing may
// crash, hang or leak; errors are expected and ignored.
//
// Parsing recursion is bounded by protobuf's nesting limit (100, binary and text); Graph::Import
// bounds nested function calls at 64 levels, but recurses once per node along a chain of data
// inputs, so its depth is that of the longest dependency chain the input spells out.
// The fuzz build links no kernels (loader/CMakeLists.txt), so the ops are counted against a small
// registry of this file's own: the ops of half_plus_two are "supported", everything else is not,
// which takes inspect's op table through both branches.
// Seeds, in tests/fuzz/corpus/saved_model: a format byte followed by the saved_model.pb of
// TF Serving's half_plus_two test models (TF1 and TF2, Apache-2.0), the text form of
// matrix_half_plus_two's, and writer_dense_argmax.binpb: a TF2-layout model written by our
// SavedModelWriter (variables dense/kernel [3,2], dense/bias [2], int64 step; signatures
// serving_default = Relu(BiasAdd(MatMul(x, kernel), bias)) and argmax = ArgMax(x, 1) + step).
// tests/fuzz_smoke.sh adds the fixtures' and tests/testdata's small models.
//
//   build/fuzz/loader/saved_model_fuzz -max_total_time=60 tests/fuzz/corpus/saved_model
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "google/protobuf/stubs/logging.h"
#include "loader/inspect.h"
#include "loader/saved_model.h"

namespace {

// SignatureDot imports the graph once per call; a few signatures cover the code.
constexpr int kMaxSignaturesToDraw = 4;

absl::Status NeverRun(savant::engine::KernelContext&) {
  return absl::InternalError("the fuzz registry's kernels never run");
}

const savant::engine::OpRegistry& FuzzRegistry() {
  static const auto* registry = [] {
    auto* r = new savant::engine::OpRegistry();
    for (const char* op : {"Add", "AddV2", "Const", "Identity", "Mul", "NoOp", "Placeholder",
                           "ReadVariableOp", "VarHandleOp"}) {
      r->Add(op, {.compute = NeverRun});
    }
    return r;
  }();
  return *registry;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Mutated strings are often invalid UTF-8, which protobuf logs on every parse; keep the
  // fuzzer's output readable for the whole run.
  static auto* silencer = new google::protobuf::LogSilencer();
  (void)silencer;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool text = (data[0] & 1) != 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto saved_model = savant::loader::ParseSavedModel(bytes, text, "fuzz/saved_model.pb");
  if (!saved_model.ok()) return 0;

  savant::loader::InspectReport report;
  report.path = "fuzz";
  report.graph_file = "fuzz/saved_model.pb";
  report.saved_model = *std::move(saved_model);
  for (int i = 0; i < report.saved_model.meta_graphs_size(); ++i) {
    const tensorflow::MetaGraphDef& mg = report.saved_model.meta_graphs(i);
    report.shown_meta_graphs.push_back(i);
    report.ops.push_back(savant::loader::CountOps(mg, FuzzRegistry()));
    auto library = std::make_shared<const savant::engine::FunctionLibrary>(
        mg.graph_def().library(), mg.meta_info_def().stripped_op_list());
    auto graph = savant::engine::Graph::Import(mg.graph_def(), library);
    if (!graph.ok()) continue;
    // Every signature tensor name resolves or fails cleanly.
    int drawn = 0;
    for (const auto& [key, sig] : mg.signature_def()) {
      for (const auto& [alias, info] : sig.inputs()) (void)(*graph)->FindEndpoint(info.name());
      for (const auto& [alias, info] : sig.outputs()) (void)(*graph)->FindEndpoint(info.name());
      if (drawn++ < kMaxSignaturesToDraw) (void)savant::loader::SignatureDot(mg, key);
    }
  }
  (void)savant::loader::FormatInspectText(report);
  (void)savant::loader::FormatInspectJson(report);
  return 0;
}
