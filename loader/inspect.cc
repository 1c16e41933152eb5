#include "loader/inspect.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/graph.h"
#include "loader/checkpoint.h"
#include "loader/saved_model.h"
#include "loader/tensor_bundle.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "tensorflow/core/framework/types.pb.h"
#include "tensorflow/core/protobuf/struct.pb.h"

namespace savant::loader {
namespace fs = std::filesystem;
namespace {

constexpr char kAssetsDir[] = "assets";
constexpr char kAssetsExtraDir[] = "assets.extra";
constexpr char kSavedModelConfig[] = "saved_model_config.pb";
constexpr char kFingerprintPb[] = "fingerprint.pb";
constexpr char kIndexSuffix[] = ".index";

absl::StatusOr<std::string> ReadFileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read error"));
  return ss.str();
}

// TensorFlow's enum name ("DT_FLOAT", "DT_FLOAT_REF"), or the number for values the proto lacks.
std::string DataTypeEnumName(int dtype) {
  const std::string& name = tensorflow::DataType_Name(dtype);
  return name.empty() ? absl::StrCat("DT_<", dtype, ">") : name;
}

// "'serve, gpu'" as saved_model_cli prints a tag-set.
std::string QuotedTagSet(const tensorflow::MetaGraphDef& meta_graph) {
  return absl::StrCat("'", absl::StrJoin(meta_graph.meta_info_def().tags(), ", "), "'");
}

template <typename Map>
std::vector<std::string> SortedKeys(const Map& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::string TypeSpecName(const tensorflow::TypeSpecProto& spec) {
  if (!spec.type_spec_class_name().empty()) return spec.type_spec_class_name();
  const std::string& name = tensorflow::TypeSpecProto_TypeSpecClass_Name(spec.type_spec_class());
  return name.empty() ? absl::StrCat("TypeSpecClass<", spec.type_spec_class(), ">") : name;
}

// Every graph tensor a TensorInfo names: its name, the three tensors of a sparse tensor, or the
// components of a composite tensor.
void CollectTensorNames(const tensorflow::TensorInfo& info, std::vector<std::string>* names) {
  switch (info.encoding_case()) {
    case tensorflow::TensorInfo::kName:
      names->push_back(info.name());
      break;
    case tensorflow::TensorInfo::kCooSparse:
      names->push_back(info.coo_sparse().indices_tensor_name());
      names->push_back(info.coo_sparse().values_tensor_name());
      names->push_back(info.coo_sparse().dense_shape_tensor_name());
      break;
    case tensorflow::TensorInfo::kCompositeTensor:
      for (const auto& component : info.composite_tensor().components()) {
        CollectTensorNames(component, names);
      }
      break;
    case tensorflow::TensorInfo::ENCODING_NOT_SET:
      break;
  }
}

// ----------------------------------------------------------------------------------------------
// Text

// "(-1, 1)", "()" for a scalar, "unknown_rank": saved_model_cli's spelling.
std::string ShapeProtoText(const tensorflow::TensorShapeProto& shape) {
  if (shape.unknown_rank()) return "unknown_rank";
  std::vector<int64_t> dims;
  for (const auto& dim : shape.dim()) dims.push_back(dim.size());
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

std::string ShapeText(const engine::Shape& shape) {
  return absl::StrCat("(", absl::StrJoin(shape.dims(), ", "), ")");
}

// saved_model_cli's _print_tensor_info: dtype, shape and name, each line indented by 2 * `indent`
// spaces (8 under a signature's "    inputs['x'] tensor_info:" line). Sparse and composite tensors,
// which saved_model_cli prints with an empty name, list their tensors instead.
void AppendTensorInfoText(const tensorflow::TensorInfo& info, int indent, std::string* out) {
  const std::string pad(2 * indent, ' ');
  absl::StrAppend(out, pad, "dtype: ", DataTypeEnumName(info.dtype()), "\n");
  absl::StrAppend(out, pad, "shape: ", ShapeProtoText(info.tensor_shape()), "\n");
  switch (info.encoding_case()) {
    case tensorflow::TensorInfo::kCooSparse: {
      const auto& coo = info.coo_sparse();
      absl::StrAppend(out, pad, "coo_sparse:\n");
      absl::StrAppend(out, pad, "  indices: ", coo.indices_tensor_name(), "\n");
      absl::StrAppend(out, pad, "  values: ", coo.values_tensor_name(), "\n");
      absl::StrAppend(out, pad, "  dense_shape: ", coo.dense_shape_tensor_name(), "\n");
      break;
    }
    case tensorflow::TensorInfo::kCompositeTensor: {
      const auto& composite = info.composite_tensor();
      absl::StrAppend(out, pad, "composite_tensor: ", TypeSpecName(composite.type_spec()), " (",
                      composite.components_size(), " components)\n");
      for (int i = 0; i < composite.components_size(); ++i) {
        absl::StrAppend(out, pad, "components[", i, "] tensor_info:\n");
        AppendTensorInfoText(composite.components(i), indent + 2, out);
      }
      break;
    }
    default:
      absl::StrAppend(out, pad, "name: ", info.name(), "\n");
      break;
  }
}

void AppendSignatureText(const std::string& key, const tensorflow::SignatureDef& sig,
                         std::string* out) {
  absl::StrAppend(out, "\nsignature_def['", key, "']:\n");
  absl::StrAppend(out, "  The given SavedModel SignatureDef contains the following input(s):\n");
  for (const std::string& alias : SortedKeys(sig.inputs())) {
    absl::StrAppend(out, "    inputs['", alias, "'] tensor_info:\n");
    AppendTensorInfoText(sig.inputs().at(alias), 4, out);
  }
  absl::StrAppend(out, "  The given SavedModel SignatureDef contains the following output(s):\n");
  for (const std::string& alias : SortedKeys(sig.outputs())) {
    absl::StrAppend(out, "    outputs['", alias, "'] tensor_info:\n");
    AppendTensorInfoText(sig.outputs().at(alias), 4, out);
  }
  absl::StrAppend(out, "  Method name is: ", sig.method_name(), "\n");
}

// Rows of cells printed as columns two spaces apart, left-aligned (right-aligned where `right`
// says so), each row indented by two spaces.
void AppendTable(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right,
                 std::string* out) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string fill(widths[c] - row[c].size(), ' ');
      const bool align_right = c < right.size() && right[c];
      absl::StrAppend(&line, "  ", align_right ? fill : "", row[c],
                      align_right || c + 1 == row.size() ? "" : fill);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(out, line, "\n");
  }
}

void AppendVariablesText(const InspectReport& report, std::string* out) {
  std::vector<std::vector<std::string>> rows = {{"name", "dtype", "shape", "bytes", "object"}};
  for (const InspectedVariable& v : report.variables) {
    rows.push_back({v.name, std::string(engine::DataTypeName(v.dtype)), ShapeText(v.shape),
                    absl::StrCat(v.bytes), v.object_path});
  }
  AppendTable(rows, {false, false, false, true, false}, out);
  absl::StrAppend(out, "Total variable bytes: ", report.variable_bytes, "\n");
}

void AppendMetaGraphExtrasText(const InspectReport& report, int shown, std::string* out) {
  const tensorflow::MetaGraphDef& mg = report.meta_graph(shown);
  const std::vector<OpUsage>& ops = report.ops[shown];
  int unsupported = 0;
  for (const OpUsage& u : ops) unsupported += u.supported ? 0 : 1;
  absl::StrAppend(out, "\nOps used by the graph and its function library (tag-set ",
                  QuotedTagSet(mg), "): ", ops.size(), " op types, ", unsupported,
                  " unsupported\n");
  std::vector<std::vector<std::string>> rows;
  for (const OpUsage& u : ops) {
    rows.push_back({u.op, absl::StrCat(u.count), u.supported ? "supported" : "UNSUPPORTED"});
  }
  AppendTable(rows, {false, true, false}, out);
  const auto& info = mg.meta_info_def();
  absl::StrAppend(out, "\nTensorFlow version: ",
                  info.tensorflow_version().empty() ? "(not recorded)" : info.tensorflow_version(),
                  info.tensorflow_git_version().empty()
                      ? ""
                      : absl::StrCat(" (git ", info.tensorflow_git_version(), ")"),
                  "\n");
  if (mg.asset_file_def_size() > 0) {
    absl::StrAppend(out, "Asset files the meta graph declares:\n");
    for (const auto& asset : mg.asset_file_def()) {
      std::vector<std::string> names;
      CollectTensorNames(asset.tensor_info(), &names);
      absl::StrAppend(out, "  ", asset.filename(), " (tensor ", absl::StrJoin(names, ", "), ")\n");
    }
  }
}

// ----------------------------------------------------------------------------------------------
// JSON

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void JsonString(JsonWriter& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void JsonKey(JsonWriter& w, absl::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void JsonShapeProto(JsonWriter& w, const tensorflow::TensorShapeProto& shape) {
  if (shape.unknown_rank()) {
    w.Null();
    return;
  }
  w.StartArray();
  for (const auto& dim : shape.dim()) w.Int64(dim.size());
  w.EndArray();
}

void JsonTensorInfo(JsonWriter& w, const tensorflow::TensorInfo& info) {
  w.StartObject();
  JsonKey(w, "dtype");
  JsonString(w, DataTypeEnumName(info.dtype()));
  JsonKey(w, "shape");
  JsonShapeProto(w, info.tensor_shape());
  switch (info.encoding_case()) {
    case tensorflow::TensorInfo::kCooSparse:
      JsonKey(w, "coo_sparse");
      w.StartObject();
      JsonKey(w, "indices");
      JsonString(w, info.coo_sparse().indices_tensor_name());
      JsonKey(w, "values");
      JsonString(w, info.coo_sparse().values_tensor_name());
      JsonKey(w, "dense_shape");
      JsonString(w, info.coo_sparse().dense_shape_tensor_name());
      w.EndObject();
      break;
    case tensorflow::TensorInfo::kCompositeTensor:
      JsonKey(w, "composite");
      w.StartObject();
      JsonKey(w, "type_spec");
      JsonString(w, TypeSpecName(info.composite_tensor().type_spec()));
      JsonKey(w, "components");
      w.StartArray();
      for (const auto& component : info.composite_tensor().components()) {
        JsonTensorInfo(w, component);
      }
      w.EndArray();
      w.EndObject();
      break;
    default:
      JsonKey(w, "name");
      JsonString(w, info.name());
      break;
  }
  w.EndObject();
}

void JsonTensorInfoMap(JsonWriter& w, const google::protobuf::Map<std::string, tensorflow::TensorInfo>& map) {
  w.StartObject();
  for (const std::string& alias : SortedKeys(map)) {
    JsonKey(w, alias);
    JsonTensorInfo(w, map.at(alias));
  }
  w.EndObject();
}

void JsonAssetFileDefs(JsonWriter& w, const tensorflow::MetaGraphDef& mg) {
  JsonKey(w, "asset_file_defs");
  w.StartArray();
  for (const auto& asset : mg.asset_file_def()) {
    w.StartObject();
    JsonKey(w, "filename");
    JsonString(w, asset.filename());
    JsonKey(w, "tensor_info");
    JsonTensorInfo(w, asset.tensor_info());
    w.EndObject();
  }
  w.EndArray();
}

// The keys describing one meta graph; written inside an object the caller opened. The primary
// meta graph's asset_file_defs go under the top-level "assets" instead (`with_assets` false).
void JsonMetaGraphFields(JsonWriter& w, const tensorflow::MetaGraphDef& mg,
                         const std::vector<OpUsage>& ops, bool with_assets) {
  JsonKey(w, "tags");
  w.StartArray();
  for (const std::string& tag : mg.meta_info_def().tags()) JsonString(w, tag);
  w.EndArray();
  JsonKey(w, "signatures");
  w.StartObject();
  for (const std::string& key : SortedKeys(mg.signature_def())) {
    const tensorflow::SignatureDef& sig = mg.signature_def().at(key);
    JsonKey(w, key);
    w.StartObject();
    JsonKey(w, "method_name");
    JsonString(w, sig.method_name());
    JsonKey(w, "inputs");
    JsonTensorInfoMap(w, sig.inputs());
    JsonKey(w, "outputs");
    JsonTensorInfoMap(w, sig.outputs());
    w.EndObject();
  }
  w.EndObject();
  JsonKey(w, "ops");
  w.StartArray();
  for (const OpUsage& u : ops) {
    w.StartObject();
    JsonKey(w, "op");
    JsonString(w, u.op);
    JsonKey(w, "count");
    w.Int64(u.count);
    JsonKey(w, "supported");
    w.Bool(u.supported);
    w.EndObject();
  }
  w.EndArray();
  JsonKey(w, "tensorflow_version");
  JsonString(w, mg.meta_info_def().tensorflow_version());
  JsonKey(w, "tensorflow_git_version");
  JsonString(w, mg.meta_info_def().tensorflow_git_version());
  if (with_assets) JsonAssetFileDefs(w, mg);
}

void JsonVariables(JsonWriter& w, const InspectReport& report) {
  JsonKey(w, "variables");
  w.StartArray();
  for (const InspectedVariable& v : report.variables) {
    w.StartObject();
    JsonKey(w, "name");
    JsonString(w, v.name);
    JsonKey(w, "dtype");
    JsonString(w, engine::DataTypeName(v.dtype));
    JsonKey(w, "shape");
    w.StartArray();
    for (int64_t d : v.shape.dims()) w.Int64(d);
    w.EndArray();
    JsonKey(w, "bytes");
    w.Int64(v.bytes);
    if (!v.object_path.empty()) {
      JsonKey(w, "object_path");
      JsonString(w, v.object_path);
    }
    w.EndObject();
  }
  w.EndArray();
  JsonKey(w, "total_variable_bytes");
  w.Int64(report.variable_bytes);
}

void JsonFile(JsonWriter& w, const InspectedFile& file) {
  w.StartObject();
  JsonKey(w, "path");
  JsonString(w, file.path);
  JsonKey(w, "bytes");
  w.Int64(file.bytes);
  w.EndObject();
}

// ----------------------------------------------------------------------------------------------
// Reading

// a * b and a + b for non-negative sizes, saturating instead of overflowing: a partitioned
// tensor's declared shape is not backed by bytes of its own, so nothing bounds it.
int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<int64_t>::max() : product;
}
int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

int64_t PodBytes(engine::DataType dtype, const engine::Shape& shape) {
  int64_t bytes = static_cast<int64_t>(engine::DataTypeSize(dtype));
  for (int64_t d : shape.dims()) bytes = SaturatingMul(bytes, std::max<int64_t>(d, 0));
  return bytes;
}

absl::StatusOr<std::vector<InspectedVariable>> ReadVariables(const std::string& prefix,
                                                             bool* has_object_graph) {
  ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> checkpoint, Checkpoint::Open(prefix));
  *has_object_graph = checkpoint->has_object_graph();
  std::map<std::string, std::string> key_to_path;
  for (const CheckpointAttribute& a : checkpoint->attributes()) {
    std::string path = a.attribute == kVariableValueAttribute
                           ? a.object_path
                           : absl::StrCat(a.object_path, a.object_path.empty() ? "" : "/",
                                          ".ATTRIBUTES/", a.attribute);
    key_to_path.emplace(a.checkpoint_key, std::move(path));
  }
  std::vector<InspectedVariable> variables;
  for (const CheckpointVariable& cv : checkpoint->variables()) {
    InspectedVariable v{cv.name, cv.dtype, cv.shape};
    if (engine::IsPodType(cv.dtype)) {
      v.bytes = PodBytes(cv.dtype, cv.shape);
    } else if (auto entry = checkpoint->reader().FindEntry(cv.name); entry.ok()) {
      v.bytes = (*entry)->size;
    }
    if (auto it = key_to_path.find(cv.name); it != key_to_path.end()) v.object_path = it->second;
    variables.push_back(std::move(v));
  }
  return variables;
}

// Regular files below `dir`/`sub`, as paths relative to `dir`, sorted.
absl::Status ListFiles(const fs::path& dir, const std::string& sub,
                       std::vector<InspectedFile>* files) {
  std::error_code ec;
  const fs::path root = dir / sub;
  if (!fs::is_directory(root, ec)) return absl::OkStatus();
  fs::recursive_directory_iterator it(root, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const auto size = it->file_size(ec);
    files->push_back({it->path().lexically_relative(dir).generic_string(),
                      ec ? 0 : static_cast<int64_t>(size)});
    ec.clear();
  }
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(root.string(), ": cannot list directory: ", ec.message()));
  }
  std::sort(files->begin(), files->end(),
            [](const InspectedFile& a, const InspectedFile& b) { return a.path < b.path; });
  return absl::OkStatus();
}

absl::Status ReadVariablesInto(const std::string& prefix, InspectReport* report) {
  ASSIGN_OR_RETURN(report->variables, ReadVariables(prefix, &report->has_object_graph));
  report->variables_prefix = prefix;
  for (const InspectedVariable& v : report->variables) {
    report->variable_bytes = SaturatingAdd(report->variable_bytes, v.bytes);
  }
  return absl::OkStatus();
}

absl::StatusOr<InspectReport> InspectCheckpoint(const std::string& prefix) {
  InspectReport report;
  report.is_checkpoint = true;
  report.path = prefix;
  RETURN_IF_ERROR(ReadVariablesInto(prefix, &report));
  return report;
}

absl::Status SelectMetaGraphs(const InspectOptions& options, InspectReport* report) {
  const auto& meta_graphs = report->saved_model.meta_graphs();
  const std::set<std::string> wanted =
      options.tags.empty() ? std::set<std::string>{kServeTag} : options.tags;
  int primary = -1;
  std::vector<std::string> available;
  for (int i = 0; i < meta_graphs.size(); ++i) {
    const auto& tags = meta_graphs[i].meta_info_def().tags();
    available.push_back(QuotedTagSet(meta_graphs[i]));
    if (primary < 0 && std::set<std::string>(tags.begin(), tags.end()) == wanted) primary = i;
  }
  if (primary < 0 && !options.tags.empty()) {
    return absl::NotFoundError(absl::StrCat(
        report->graph_file.string(), ": no meta graph has the tag-set '",
        absl::StrJoin(options.tags, ", "), "'; tag-sets there are: ",
        absl::StrJoin(available, " ")));
  }
  // Without a {"serve"} meta graph and without --tag_set, every meta graph is shown: a model that
  // is not for serving (tf.Transform's {"transform"}) is still worth inspecting.
  const bool all = options.all_meta_graphs || primary < 0;
  if (primary >= 0) report->shown_meta_graphs.push_back(primary);
  if (all) {
    for (int i = 0; i < meta_graphs.size(); ++i) {
      if (i != primary) report->shown_meta_graphs.push_back(i);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<InspectReport> InspectSavedModel(const fs::path& dir, const InspectOptions& options) {
  InspectReport report;
  report.path = dir;
  std::error_code ec;
  bool text = false;
  if (fs::exists(dir / kSavedModelPb, ec)) {
    report.graph_file = dir / kSavedModelPb;
  } else if (fs::exists(dir / kSavedModelPbtxt, ec)) {
    report.graph_file = dir / kSavedModelPbtxt;
    text = true;
  } else {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": neither ", kSavedModelPb, " nor ",
                                            kSavedModelPbtxt, " exists"));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(report.graph_file));
  ASSIGN_OR_RETURN(report.saved_model, ParseSavedModel(bytes, text, report.graph_file.string()));
  RETURN_IF_ERROR(SelectMetaGraphs(options, &report));
  for (int shown = 0; shown < static_cast<int>(report.shown_meta_graphs.size()); ++shown) {
    report.ops.push_back(CountOps(report.meta_graph(shown), engine::OpRegistry::Global()));
  }

  const fs::path index = dir / "variables" / absl::StrCat("variables", kIndexSuffix);
  if (fs::exists(index, ec)) {
    RETURN_IF_ERROR(ReadVariablesInto((dir / "variables" / "variables").string(), &report));
  }
  RETURN_IF_ERROR(ListFiles(dir, kAssetsDir, &report.asset_files));
  std::vector<InspectedFile> extra;
  RETURN_IF_ERROR(ListFiles(dir, kAssetsExtraDir, &extra));
  const std::string config_path = absl::StrCat(kAssetsExtraDir, "/", kSavedModelConfig);
  for (InspectedFile& file : extra) {
    if (file.path == config_path) report.saved_model_config = file;
    report.asset_files.push_back(std::move(file));
  }

  const fs::path fingerprint = dir / kFingerprintPb;
  if (fs::exists(fingerprint, ec)) {
    ASSIGN_OR_RETURN(std::string fp, ReadFileBytes(fingerprint));
    tensorflow::FingerprintDef def;
    if (!def.ParseFromString(fp)) {
      return absl::DataLossError(absl::StrCat(fingerprint.string(), ": not a FingerprintDef (",
                                              fp.size(), " bytes could not be parsed)"));
    }
    report.fingerprint = std::move(def);
  }
  return report;
}

// ----------------------------------------------------------------------------------------------
// DOT

// A DOT double-quoted string.
std::string DotQuote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

struct DotAlias {
  std::string alias;
  std::string tensor;
  engine::Endpoint endpoint;
};

absl::StatusOr<std::vector<DotAlias>> ResolveAliases(
    const engine::Graph& graph, const google::protobuf::Map<std::string, tensorflow::TensorInfo>& map,
    absl::string_view what) {
  std::vector<DotAlias> aliases;
  for (const std::string& alias : SortedKeys(map)) {
    std::vector<std::string> names;
    CollectTensorNames(map.at(alias), &names);
    for (const std::string& name : names) {
      auto endpoint = graph.FindEndpoint(name);
      if (!endpoint.ok()) {
        return Annotate(endpoint.status(), absl::StrCat(what, " \"", alias, "\""));
      }
      if (endpoint->node < 0 || endpoint->node >= graph.num_nodes()) {
        return absl::InternalError(absl::StrCat(what, " \"", alias, "\": tensor \"", name,
                                                "\" resolved to node ", endpoint->node,
                                                " of a graph with ", graph.num_nodes(), " nodes"));
      }
      aliases.push_back({alias, name, *endpoint});
    }
  }
  return aliases;
}

}  // namespace

std::vector<OpUsage> CountOps(const tensorflow::MetaGraphDef& meta_graph,
                              const engine::OpRegistry& registry) {
  const auto& library = meta_graph.graph_def().library();
  absl::flat_hash_set<std::string> functions;
  for (const auto& f : library.function()) functions.insert(f.signature().name());
  std::map<std::string, int64_t> counts;
  auto add = [&](const tensorflow::NodeDef& node) {
    if (!functions.contains(node.op())) ++counts[node.op()];
  };
  for (const auto& node : meta_graph.graph_def().node()) add(node);
  for (const auto& f : library.function()) {
    for (const auto& node : f.node_def()) add(node);
  }
  std::vector<OpUsage> ops;
  for (const auto& [op, count] : counts) {
    const bool inlined = op == "PartitionedCall" || op == "StatefulPartitionedCall";
    ops.push_back({op, count, inlined || registry.Find(op) != nullptr});
  }
  return ops;
}

absl::StatusOr<InspectReport> Inspect(const fs::path& path, const InspectOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return InspectSavedModel(path, options);
  std::string prefix = path.string();
  const absl::string_view suffix = kIndexSuffix;
  if (prefix.size() > suffix.size() &&
      absl::string_view(prefix).substr(prefix.size() - suffix.size()) == suffix) {
    prefix.resize(prefix.size() - suffix.size());
  }
  if (fs::is_regular_file(absl::StrCat(prefix, kIndexSuffix), ec)) return InspectCheckpoint(prefix);
  return absl::NotFoundError(absl::StrCat(
      path.string(), ": neither a SavedModel directory nor a checkpoint prefix (",
      prefix, kIndexSuffix, " does not exist)"));
}

std::string FormatInspectText(const InspectReport& report) {
  std::string out;
  if (report.is_checkpoint) {
    absl::StrAppend(&out, "Checkpoint ", report.path.string(), ": ", report.variables.size(),
                    " tensors, ", report.has_object_graph ? "object-based (TF2)" : "name-based (TF1)",
                    "\n");
    AppendVariablesText(report, &out);
    return out;
  }
  absl::StrAppend(&out, "SavedModel ", report.path.string(), " (",
                  report.graph_file.filename().string(), ")\n");
  absl::StrAppend(&out, "The given SavedModel contains the following tag-sets:\n");
  for (const auto& mg : report.saved_model.meta_graphs()) {
    absl::StrAppend(&out, QuotedTagSet(mg), "\n");
  }
  for (int shown = 0; shown < static_cast<int>(report.shown_meta_graphs.size()); ++shown) {
    const tensorflow::MetaGraphDef& mg = report.meta_graph(shown);
    absl::StrAppend(&out, "\nMetaGraphDef with tag-set: ", QuotedTagSet(mg),
                    " contains the following SignatureDefs:\n");
    for (const std::string& key : SortedKeys(mg.signature_def())) {
      AppendSignatureText(key, mg.signature_def().at(key), &out);
    }
    AppendMetaGraphExtrasText(report, shown, &out);
  }

  if (report.variables_prefix.empty()) {
    absl::StrAppend(&out, "\nVariables: none (no variables/variables.index)\n");
  } else {
    absl::StrAppend(&out, "\nVariables in ", report.variables_prefix, ": ",
                    report.variables.size(), " tensors, ",
                    report.has_object_graph ? "object-based (TF2)" : "name-based (TF1)", "\n");
    AppendVariablesText(report, &out);
  }

  absl::StrAppend(&out, "\nAssets:", report.asset_files.empty() ? " none" : "", "\n");
  for (const InspectedFile& file : report.asset_files) {
    absl::StrAppend(&out, "  ", file.path, " (", file.bytes, " bytes)\n");
  }
  if (report.saved_model_config) {
    absl::StrAppend(&out, "saved_model_config: ", report.saved_model_config->path, " (",
                    report.saved_model_config->bytes, " bytes)\n");
  } else {
    absl::StrAppend(&out, "saved_model_config: none\n");
  }

  if (!report.fingerprint) {
    absl::StrAppend(&out, "\nFingerprint: none (no ", kFingerprintPb, ")\n");
  } else {
    const tensorflow::FingerprintDef& fp = *report.fingerprint;
    absl::StrAppend(&out, "\nFingerprint (", kFingerprintPb, "):\n");
    absl::StrAppend(&out, "  saved_model_checksum: ", fp.saved_model_checksum(), "\n");
    absl::StrAppend(&out, "  graph_def_program_hash: ", fp.graph_def_program_hash(), "\n");
    absl::StrAppend(&out, "  signature_def_hash: ", fp.signature_def_hash(), "\n");
    absl::StrAppend(&out, "  saved_object_graph_hash: ", fp.saved_object_graph_hash(), "\n");
    absl::StrAppend(&out, "  checkpoint_hash: ", fp.checkpoint_hash(), "\n");
    if (!fp.uuid().empty()) absl::StrAppend(&out, "  uuid: ", fp.uuid(), "\n");
    if (fp.has_version()) absl::StrAppend(&out, "  producer: ", fp.version().producer(), "\n");
  }
  return out;
}

std::string FormatInspectJson(const InspectReport& report) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  if (report.is_checkpoint) {
    JsonKey(w, "checkpoint");
    JsonString(w, report.path.string());
    JsonKey(w, "has_object_graph");
    w.Bool(report.has_object_graph);
    JsonVariables(w, report);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
  }
  JsonKey(w, "path");
  JsonString(w, report.path.string());
  JsonKey(w, "saved_model_file");
  JsonString(w, report.graph_file.string());
  JsonKey(w, "all_tag_sets");
  w.StartArray();
  for (const auto& mg : report.saved_model.meta_graphs()) {
    w.StartArray();
    for (const std::string& tag : mg.meta_info_def().tags()) JsonString(w, tag);
    w.EndArray();
  }
  w.EndArray();
  JsonMetaGraphFields(w, report.meta_graph(0), report.ops[0], /*with_assets=*/false);
  if (report.shown_meta_graphs.size() > 1) {
    JsonKey(w, "meta_graphs");
    w.StartArray();
    for (int shown = 0; shown < static_cast<int>(report.shown_meta_graphs.size()); ++shown) {
      w.StartObject();
      JsonMetaGraphFields(w, report.meta_graph(shown), report.ops[shown], /*with_assets=*/true);
      w.EndObject();
    }
    w.EndArray();
  }
  JsonKey(w, "variables_prefix");
  JsonString(w, report.variables_prefix);
  JsonKey(w, "has_object_graph");
  w.Bool(report.has_object_graph);
  JsonVariables(w, report);
  JsonKey(w, "assets");
  w.StartObject();
  JsonAssetFileDefs(w, report.meta_graph(0));
  JsonKey(w, "files");
  w.StartArray();
  for (const InspectedFile& file : report.asset_files) JsonFile(w, file);
  w.EndArray();
  w.EndObject();
  JsonKey(w, "saved_model_config");
  if (report.saved_model_config) {
    JsonFile(w, *report.saved_model_config);
  } else {
    w.Null();
  }
  JsonKey(w, "fingerprint");
  if (!report.fingerprint) {
    w.Null();
  } else {
    const tensorflow::FingerprintDef& fp = *report.fingerprint;
    w.StartObject();
    JsonKey(w, "saved_model_checksum");
    w.Uint64(fp.saved_model_checksum());
    JsonKey(w, "graph_def_program_hash");
    w.Uint64(fp.graph_def_program_hash());
    JsonKey(w, "signature_def_hash");
    w.Uint64(fp.signature_def_hash());
    JsonKey(w, "saved_object_graph_hash");
    w.Uint64(fp.saved_object_graph_hash());
    JsonKey(w, "checkpoint_hash");
    w.Uint64(fp.checkpoint_hash());
    JsonKey(w, "uuid");
    JsonString(w, fp.uuid());
    JsonKey(w, "producer");
    w.Int(fp.version().producer());
    w.EndObject();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<std::string> SignatureDot(const tensorflow::MetaGraphDef& meta_graph,
                                         const std::string& signature_key) {
  auto sig_it = meta_graph.signature_def().find(signature_key);
  if (sig_it == meta_graph.signature_def().end()) {
    return absl::NotFoundError(absl::StrCat("signature \"", signature_key,
                                            "\" not found; signatures: ",
                                            absl::StrJoin(SortedKeys(meta_graph.signature_def()), ", ")));
  }
  const tensorflow::SignatureDef& sig = sig_it->second;
  auto library = std::make_shared<const engine::FunctionLibrary>(
      meta_graph.graph_def().library(), meta_graph.meta_info_def().stripped_op_list());
  ASSIGN_OR_RETURN(std::shared_ptr<const engine::Graph> graph,
                   engine::Graph::Import(meta_graph.graph_def(), library));
  const std::string where = absl::StrCat("signature \"", signature_key, "\"");
  auto inputs = ResolveAliases(*graph, sig.inputs(), "input");
  if (!inputs.ok()) return Annotate(inputs.status(), where);
  auto outputs = ResolveAliases(*graph, sig.outputs(), "output");
  if (!outputs.ok()) return Annotate(outputs.status(), where);

  const int n = graph->num_nodes();
  std::vector<char> is_input(n, 0), is_output(n, 0), kept(n, 0);
  for (const DotAlias& a : *inputs) is_input[a.endpoint.node] = 1;
  // Walk back from the outputs; a signature input is fed, so what computes it is not needed.
  std::deque<int> queue;
  for (const DotAlias& a : *outputs) {
    is_output[a.endpoint.node] = 1;
    if (!kept[a.endpoint.node]) {
      kept[a.endpoint.node] = 1;
      queue.push_back(a.endpoint.node);
    }
  }
  while (!queue.empty()) {
    const int i = queue.front();
    queue.pop_front();
    if (is_input[i]) continue;
    const engine::Node& node = graph->node(i);
    auto visit = [&](int from) {
      if (from >= 0 && from < n && !kept[from]) {
        kept[from] = 1;
        queue.push_back(from);
      }
    };
    for (const engine::Endpoint& e : node.inputs) visit(e.node);
    for (int c : node.control_inputs) visit(c);
  }

  std::string out = absl::StrCat("digraph ", DotQuote(signature_key), " {\n");
  absl::StrAppend(&out, "  rankdir=TB;\n");
  absl::StrAppend(&out, "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
  absl::StrAppend(&out, "  edge [fontname=\"Helvetica\", fontsize=9];\n");
  for (size_t k = 0; k < inputs->size(); ++k) {
    const DotAlias& a = (*inputs)[k];
    absl::StrAppend(&out, "  in", k, " [shape=ellipse, style=filled, fillcolor=\"#9ecae1\", label=",
                    DotQuote(absl::StrCat("input '", a.alias, "'\n", a.tensor)), "];\n");
  }
  for (int i = 0; i < n; ++i) {
    if (!kept[i] && !is_input[i]) continue;
    const engine::Node& node = graph->node(i);
    absl::StrAppend(&out, "  n", i, " [label=", DotQuote(absl::StrCat(node.name, "\n", node.op)));
    if (is_input[i] && is_output[i]) {
      absl::StrAppend(&out, ", style=filled, fillcolor=\"#c7e9c0\", penwidth=2");
    } else if (is_input[i]) {
      absl::StrAppend(&out, ", style=filled, fillcolor=\"#deebf7\", penwidth=2");
    } else if (is_output[i]) {
      absl::StrAppend(&out, ", style=filled, fillcolor=\"#fdd0a2\", penwidth=2");
    }
    absl::StrAppend(&out, "];\n");
  }
  for (size_t k = 0; k < outputs->size(); ++k) {
    const DotAlias& a = (*outputs)[k];
    absl::StrAppend(&out, "  out", k, " [shape=ellipse, style=filled, fillcolor=\"#fd8d3c\", label=",
                    DotQuote(absl::StrCat("output '", a.alias, "'\n", a.tensor)), "];\n");
  }
  for (size_t k = 0; k < inputs->size(); ++k) {
    const DotAlias& a = (*inputs)[k];
    absl::StrAppend(&out, "  in", k, " -> n", a.endpoint.node, ";\n");
  }
  for (int i = 0; i < n; ++i) {
    // Inputs are fed: the edges into them are cut.
    if (!kept[i] || is_input[i]) continue;
    const engine::Node& node = graph->node(i);
    for (const engine::Endpoint& e : node.inputs) {
      absl::StrAppend(&out, "  n", e.node, " -> n", i);
      if (e.port != 0) absl::StrAppend(&out, " [label=\":", e.port, "\"]");
      absl::StrAppend(&out, ";\n");
    }
    for (int c : node.control_inputs) {
      absl::StrAppend(&out, "  n", c, " -> n", i, " [style=dashed];\n");
    }
  }
  for (size_t k = 0; k < outputs->size(); ++k) {
    const DotAlias& a = (*outputs)[k];
    absl::StrAppend(&out, "  n", a.endpoint.node, " -> out", k);
    if (a.endpoint.port != 0) absl::StrAppend(&out, " [label=\":", a.endpoint.port, "\"]");
    absl::StrAppend(&out, ";\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

absl::StatusOr<std::string> SignatureDot(const InspectReport& report,
                                         const std::string& signature_key) {
  if (report.is_checkpoint) {
    return absl::FailedPreconditionError(
        absl::StrCat(report.path.string(), ": a checkpoint has no signatures to draw"));
  }
  std::set<std::string> keys;
  for (int shown = 0; shown < static_cast<int>(report.shown_meta_graphs.size()); ++shown) {
    const tensorflow::MetaGraphDef& mg = report.meta_graph(shown);
    if (mg.signature_def().contains(signature_key)) {
      auto dot = SignatureDot(mg, signature_key);
      if (!dot.ok()) return Annotate(dot.status(), report.graph_file.string());
      return dot;
    }
    for (const auto& [key, sig] : mg.signature_def()) keys.insert(key);
  }
  return absl::NotFoundError(absl::StrCat(report.graph_file.string(), ": signature \"",
                                          signature_key, "\" not found; signatures: ",
                                          absl::StrJoin(keys, ", ")));
}

}  // namespace savant::loader
