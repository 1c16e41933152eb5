// savant_tfjs_export: writes one signature of a SavedModel as a TensorFlow.js "graph model" (the
// model.json + weights.bin that tf.loadGraphModel reads) together with inputs and the outputs
// Savant computes for them, for tests/golden/differential.js. TensorFlow.js executes TensorFlow
// GraphDef ops with its own kernels, so it is an oracle independent of the engine.
//
//   savant_tfjs_export --model DIR --signature serving_default --out OUT [--tags serve]
//                      [--batch 2] [--seed 1]
//
// The exported graph is the signature's graph after the engine's importer (function calls
// inlined), pruned to what the outputs need. Every tensor that does not depend on a signature input
// (variable reads, constant subgraphs) is evaluated by the engine once and written as a Const
// weight; the rest is kept node for node, so tfjs recomputes everything that depends on the inputs.
// Exit code 0 on success, 1 with a message on stderr otherwise.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"
#include "engine/function.h"
#include "engine/graph.h"
#include "engine/tensor.h"
#include "google/protobuf/util/json_util.h"
#include "loader/model.h"
#include "tensorflow/core/framework/graph.pb.h"

namespace savant::tools {
namespace {

using engine::DataType;
using engine::Endpoint;
using engine::Graph;
using engine::Node;
using engine::Shape;
using engine::Tensor;

struct Options {
  std::filesystem::path model;
  std::string signature = "serving_default";
  std::filesystem::path out;
  std::set<std::string> tags = {"serve"};
  int64_t batch = 2;
  uint32_t seed = 1;
};

std::string EndpointName(const Graph& g, Endpoint e) {
  const std::string& name = g.node(e.node).name;
  return e.port == 0 ? name : absl::StrCat(name, ":", e.port);
}

std::string EscapeJson(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// "[1.5, NaN, ...]" with non-finite floats as strings, as generate.js writes them.
std::string ValuesJson(const Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (i > 0) out += ",";
    switch (t.dtype()) {
      case DataType::kFloat: {
        const float v = t.data<float>()[i];
        if (std::isnan(v)) {
          out += "\"NaN\"";
        } else if (std::isinf(v)) {
          out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        } else {
          char buf[32];
          std::snprintf(buf, sizeof(buf), "%.9g", v);
          out += buf;
        }
        break;
      }
      case DataType::kInt32:
        absl::StrAppend(&out, t.data<int32_t>()[i]);
        break;
      case DataType::kInt64:
        absl::StrAppend(&out, t.data<int64_t>()[i]);
        break;
      case DataType::kBool:
        out += t.data<bool>()[i] ? "true" : "false";
        break;
      default:
        out += "null";
    }
  }
  return out + "]";
}

std::string TensorJson(const std::string& name, const std::string& alias, const Tensor& t) {
  std::string shape = "[";
  for (int i = 0; i < t.rank(); ++i) absl::StrAppend(&shape, i ? "," : "", t.dim(i));
  shape += "]";
  return absl::StrCat("{\"name\":\"", EscapeJson(name), "\",\"alias\":\"", EscapeJson(alias),
                      "\",\"dtype\":\"", engine::DataTypeName(t.dtype()), "\",\"shape\":", shape,
                      ",\"values\":", ValuesJson(t), "}");
}

absl::StatusOr<Tensor> RandomInput(const loader::TensorBinding& b, int64_t batch,
                                   std::mt19937& rng) {
  if (b.shape.unknown_rank()) {
    return absl::InvalidArgumentError(absl::StrCat("input \"", b.alias, "\" has unknown rank"));
  }
  Shape shape;
  for (int i = 0; i < b.shape.rank(); ++i) {
    int64_t d = b.shape.dim(i);
    if (d < 0) {
      if (i != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("input \"", b.alias, "\" has an unknown dim other than the batch"));
      }
      d = batch;
    }
    shape.AddDim(d);
  }
  Tensor t(b.feed_dtype, shape);
  if (b.feed_dtype == DataType::kFloat) {
    std::uniform_real_distribution<float> dist(-1, 1);
    for (float& v : t.flat<float>()) v = dist(rng);
  } else if (b.feed_dtype == DataType::kInt32) {
    std::uniform_int_distribution<int32_t> dist(0, 9);
    for (int32_t& v : t.flat<int32_t>()) v = dist(rng);
  } else {
    return absl::UnimplementedError(absl::StrCat("input \"", b.alias, "\" is ",
                                                 engine::DataTypeName(b.feed_dtype)));
  }
  return t;
}

absl::StatusOr<std::string> TfjsDtype(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat:
      return std::string("float32");
    case DataType::kInt32:
    case DataType::kInt64:  // tfjs has no int64: written as int32
      return std::string("int32");
    case DataType::kBool:
      return std::string("bool");
    default:
      return absl::UnimplementedError(
          absl::StrCat("a constant of ", engine::DataTypeName(dtype), " cannot be a tfjs weight"));
  }
}

absl::Status Export(const Options& opt) {
  ASSIGN_OR_RETURN(auto model, loader::Model::Load(opt.model, {.tags = opt.tags}));
  ASSIGN_OR_RETURN(const loader::Signature* sig, model->FindSignature(opt.signature));
  const auto& mg = model->meta_graph();
  auto library = std::make_shared<engine::FunctionLibrary>(mg.graph_def().library(),
                                                           mg.meta_info_def().stripped_op_list());
  ASSIGN_OR_RETURN(std::shared_ptr<const Graph> graph, Graph::Import(mg.graph_def(), library));
  const Graph& g = *graph;

  // Feeds become Placeholders named after the signature aliases.
  absl::flat_hash_map<Endpoint, std::string> feed_names;
  std::vector<Tensor> feed_values;
  std::mt19937 rng(opt.seed);
  loader::NamedTensors inputs;
  for (const auto& b : sig->inputs) {
    ASSIGN_OR_RETURN(Endpoint ep, g.FindEndpoint(b.tensor_name));
    feed_names[ep] = absl::StrCat("savant_input/", b.alias);
    ASSIGN_OR_RETURN(Tensor t, RandomInput(b, opt.batch, rng));
    inputs.emplace_back(b.alias, t);
    feed_values.push_back(t);
  }
  std::vector<Endpoint> fetches;
  for (const auto& b : sig->outputs) {
    ASSIGN_OR_RETURN(Endpoint ep, g.FindEndpoint(b.tensor_name));
    fetches.push_back(ep);
  }

  // Prune to the data dependencies of the fetches, stopping at feeds.
  std::vector<bool> needed(g.num_nodes(), false);
  std::vector<int> stack;
  for (const Endpoint& e : fetches) {
    if (!feed_names.contains(e)) stack.push_back(e.node);
  }
  while (!stack.empty()) {
    const int n = stack.back();
    stack.pop_back();
    if (needed[n]) continue;
    needed[n] = true;
    for (const Endpoint& in : g.node(n).inputs) {
      if (!feed_names.contains(in) && !needed[in.node]) stack.push_back(in.node);
    }
  }
  // Which needed nodes depend on a feed (in topological order: repeat until stable).
  std::vector<bool> dynamic(g.num_nodes(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (int n = 0; n < g.num_nodes(); ++n) {
      if (!needed[n] || dynamic[n]) continue;
      for (const Endpoint& in : g.node(n).inputs) {
        if (feed_names.contains(in) || dynamic[in.node]) {
          dynamic[n] = true;
          changed = true;
          break;
        }
      }
    }
  }
  // Constant endpoints read by dynamic nodes, or fetched directly, are evaluated now.
  std::vector<Endpoint> frontier;
  absl::flat_hash_map<Endpoint, std::string> const_names;
  auto add_frontier = [&](Endpoint e) {
    if (feed_names.contains(e) || dynamic[e.node] || const_names.contains(e)) return;
    const_names[e] = absl::StrCat("savant_const/", g.node(e.node).name, "_", e.port);
    frontier.push_back(e);
  };
  for (int n = 0; n < g.num_nodes(); ++n) {
    if (!dynamic[n]) continue;
    for (const Endpoint& in : g.node(n).inputs) add_frontier(in);
  }
  for (const Endpoint& e : fetches) add_frontier(e);
  std::vector<Tensor> const_values;
  if (!frontier.empty()) {
    engine::FunctionSpec spec;
    for (const Endpoint& e : frontier) spec.fetches.push_back(EndpointName(g, e));
    spec.label = "constant subgraph";
    // The model's resources hold the restored variables; the model outlives this function, so a
    // non-owning pointer is enough.
    std::shared_ptr<engine::ResourceManager> resources(std::shared_ptr<void>(),
                                                      &model->resources());
    ASSIGN_OR_RETURN(auto fn, engine::Function::Compile(graph, resources, spec));
    RETURN_IF_ERROR(fn->Run({}, &const_values));
  }

  // The GraphDef for tfjs.
  tensorflow::GraphDef out;
  out.mutable_versions()->set_producer(mg.graph_def().versions().producer());
  for (const auto& b : sig->inputs) {
    ASSIGN_OR_RETURN(Endpoint ep, g.FindEndpoint(b.tensor_name));
    tensorflow::NodeDef* p = out.add_node();
    p->set_name(feed_names[ep]);
    p->set_op("Placeholder");
    (*p->mutable_attr())["dtype"].set_type(static_cast<tensorflow::DataType>(b.feed_dtype));
    auto* shape = (*p->mutable_attr())["shape"].mutable_shape();
    for (int i = 0; i < b.shape.rank(); ++i) shape->add_dim()->set_size(b.shape.dim(i));
  }
  std::string weights;
  std::string manifest;
  for (size_t i = 0; i < frontier.size(); ++i) {
    Tensor t = const_values[i];
    if (t.dtype() == DataType::kInt64) {
      Tensor narrowed(DataType::kInt32, t.shape());
      for (int64_t k = 0; k < t.num_elements(); ++k) {
        narrowed.data<int32_t>()[k] = static_cast<int32_t>(t.data<int64_t>()[k]);
      }
      t = narrowed;
    }
    ASSIGN_OR_RETURN(std::string dtype, TfjsDtype(t.dtype()));
    const std::string& name = const_names[frontier[i]];
    tensorflow::NodeDef* c = out.add_node();
    c->set_name(name);
    c->set_op("Const");
    (*c->mutable_attr())["dtype"].set_type(static_cast<tensorflow::DataType>(t.dtype()));
    auto* value = (*c->mutable_attr())["value"].mutable_tensor();
    value->set_dtype(static_cast<tensorflow::DataType>(t.dtype()));
    std::string shape = "[";
    for (int d = 0; d < t.rank(); ++d) {
      value->mutable_tensor_shape()->add_dim()->set_size(t.dim(d));
      absl::StrAppend(&shape, d ? "," : "", t.dim(d));
    }
    shape += "]";
    if (t.dtype() == DataType::kBool) {
      for (int64_t k = 0; k < t.num_elements(); ++k) weights.push_back(t.data<bool>()[k] ? 1 : 0);
    } else {
      weights.append(static_cast<const char*>(t.raw_data()), t.byte_size());
    }
    absl::StrAppend(&manifest, manifest.empty() ? "" : ",", "{\"name\":\"", EscapeJson(name),
                    "\",\"shape\":", shape, ",\"dtype\":\"", dtype, "\"}");
  }
  auto input_name = [&](const Endpoint& e) -> std::string {
    if (auto it = feed_names.find(e); it != feed_names.end()) return it->second;
    if (auto it = const_names.find(e); it != const_names.end()) return it->second;
    return EndpointName(g, e);
  };
  for (int n = 0; n < g.num_nodes(); ++n) {
    if (!dynamic[n]) continue;
    const Node& node = g.node(n);
    tensorflow::NodeDef* d = out.add_node();
    d->set_name(node.name);
    d->set_op(node.op);
    for (const Endpoint& in : node.inputs) d->add_input(input_name(in));
    for (const auto& [key, value] : node.attrs) {
      // Internal attrs of the importer and the executor mean nothing to tfjs.
      if (!key.empty() && key[0] == '_') continue;
      (*d->mutable_attr())[key] = value;
    }
  }

  std::string topology;
  google::protobuf::util::JsonPrintOptions print;
  auto st = google::protobuf::util::MessageToJsonString(out, &topology, print);
  if (!st.ok()) return absl::InternalError(absl::StrCat("GraphDef to JSON: ", st.ToString()));

  std::vector<std::string> output_names;
  std::filesystem::create_directories(opt.out);
  {
    std::ofstream f(opt.out / "model.json");
    f << "{\"format\":\"graph-model\",\"generatedBy\":\"savant_tfjs_export\",\"convertedBy\":null,"
      << "\"modelTopology\":" << topology << ",\"weightsManifest\":[{\"paths\":[\"weights.bin\"],"
      << "\"weights\":[" << manifest << "]}]}\n";
  }
  {
    std::ofstream f(opt.out / "weights.bin", std::ios::binary);
    f.write(weights.data(), static_cast<std::streamsize>(weights.size()));
  }

  // What Savant answers for the inputs.
  ASSIGN_OR_RETURN(loader::NamedTensors outputs, model->Run(opt.signature, inputs));
  std::string expected = "{\"inputs\":[";
  for (size_t i = 0; i < sig->inputs.size(); ++i) {
    ASSIGN_OR_RETURN(Endpoint ep, g.FindEndpoint(sig->inputs[i].tensor_name));
    absl::StrAppend(&expected, i ? "," : "",
                    TensorJson(feed_names[ep], sig->inputs[i].alias, feed_values[i]));
  }
  expected += "],\"outputs\":[";
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& [alias, t] = outputs[i];
    std::string name;
    for (const auto& b : sig->outputs) {
      if (b.alias != alias) continue;
      ASSIGN_OR_RETURN(Endpoint ep, g.FindEndpoint(b.tensor_name));
      name = const_names.contains(ep) ? const_names[ep]
             : feed_names.contains(ep) ? feed_names[ep]
                                       : EndpointName(g, ep);
    }
    absl::StrAppend(&expected, i ? "," : "", TensorJson(name, alias, t));
  }
  expected += "]}\n";
  std::ofstream(opt.out / "expected.json") << expected;
  std::cout << "exported " << opt.signature << ": " << out.node_size() << " nodes, "
            << frontier.size() << " weights (" << weights.size() << " bytes)\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace savant::tools

int main(int argc, char** argv) {
  savant::tools::Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--model") {
      opt.model = value;
    } else if (flag == "--signature") {
      opt.signature = value;
    } else if (flag == "--out") {
      opt.out = value;
    } else if (flag == "--tags") {
      opt.tags.clear();
      for (auto t : absl::StrSplit(value, ',')) opt.tags.insert(std::string(t));
    } else if (flag == "--batch") {
      opt.batch = std::stoll(value);
    } else if (flag == "--seed") {
      opt.seed = static_cast<uint32_t>(std::stoul(value));
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 1;
    }
  }
  if (opt.model.empty() || opt.out.empty()) {
    std::cerr << "usage: savant_tfjs_export --model DIR --signature KEY --out DIR [--tags serve] "
                 "[--batch 2] [--seed 1]\n";
    return 1;
  }
  absl::Status status = savant::tools::Export(opt);
  if (!status.ok()) {
    std::cerr << status << "\n";
    return 1;
  }
  return 0;
}
