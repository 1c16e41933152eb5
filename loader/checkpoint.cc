#include "loader/checkpoint.h"

#include <algorithm>
#include <deque>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace savant::loader {
namespace {

// absl::StrCat takes absl::string_view, which is not std::string_view in every abseil build.
template <typename S>
absl::string_view Sv(const S& s) {
  return absl::string_view(s.data(), s.size());
}

std::string JoinPath(std::string_view parent, std::string_view child) {
  return parent.empty() ? std::string(child) : absl::StrCat(Sv(parent), "/", Sv(child));
}

std::string PathToKeyName(const CheckpointAttribute& a) {
  if (a.attribute == kVariableValueAttribute) return a.object_path;
  return absl::StrCat(JoinPath(a.object_path, ".ATTRIBUTES"), "/", a.attribute);
}

}  // namespace

std::vector<CheckpointVariable> ListVariables(const BundleReader& reader) {
  absl::flat_hash_set<std::string> slice_keys;
  for (const BundleEntry& entry : reader.entries()) {
    for (const TensorSlice& slice : entry.slices) {
      slice_keys.insert(EncodeTensorNameSlice(entry.name, slice));
    }
  }
  std::vector<CheckpointVariable> variables;
  for (const BundleEntry& entry : reader.entries()) {
    if (slice_keys.contains(entry.name)) continue;
    variables.push_back({entry.name, entry.dtype, entry.shape});
  }
  return variables;
}

absl::StatusOr<std::optional<tensorflow::TrackableObjectGraph>> ReadObjectGraph(
    const BundleReader& reader) {
  if (!reader.Contains(kObjectGraphKey)) return std::nullopt;
  ASSIGN_OR_RETURN(engine::Tensor tensor, reader.Lookup(kObjectGraphKey));
  if (tensor.dtype() != engine::DataType::kString || tensor.rank() != 0) {
    return absl::DataLossError(
        absl::StrCat(reader.prefix(), ": object graph entry \"", Sv(kObjectGraphKey), "\" is ",
                     Sv(engine::DataTypeName(tensor.dtype())), " ", tensor.shape().DebugString(),
                     ", expected a DT_STRING scalar"));
  }
  tensorflow::TrackableObjectGraph graph;
  if (!graph.ParseFromString(tensor.scalar<std::string>())) {
    return absl::DataLossError(absl::StrCat(reader.prefix(), ": object graph entry \"",
                                            Sv(kObjectGraphKey),
                                            "\" is not a valid TrackableObjectGraph"));
  }
  return graph;
}

absl::StatusOr<std::vector<CheckpointAttribute>> ListObjectAttributes(
    const tensorflow::TrackableObjectGraph& graph) {
  const int node_count = graph.nodes_size();
  std::vector<std::optional<std::string>> paths(node_count);
  const auto check_node = [node_count](int from, absl::string_view what, int id) -> absl::Status {
    if (id < 0 || id >= node_count) {
      return absl::DataLossError(absl::StrCat("object graph: node ", from, " ", what,
                                              " refers to node ", id, ", but the graph has ",
                                              node_count, " nodes"));
    }
    return absl::OkStatus();
  };
  // Breadth-first from the root: TensorFlow names each object by its first breadth-first path.
  std::vector<int> order;
  if (node_count > 0) {
    paths[0] = "";
    std::deque<int> queue = {0};
    while (!queue.empty()) {
      const int id = queue.front();
      queue.pop_front();
      order.push_back(id);
      for (const auto& child : graph.nodes(id).children()) {
        RETURN_IF_ERROR(
            check_node(id, absl::StrCat("child \"", child.local_name(), "\""), child.node_id()));
        if (paths[child.node_id()]) continue;
        paths[child.node_id()] = JoinPath(*paths[id], child.local_name());
        queue.push_back(child.node_id());
      }
    }
  }
  // Optimizer slots hang off the optimizer node and usually are nobody's child.
  const size_t reachable = order.size();
  for (size_t i = 0; i < reachable; ++i) {
    const int optimizer = order[i];
    for (const auto& slot : graph.nodes(optimizer).slot_variables()) {
      RETURN_IF_ERROR(check_node(optimizer, "slot variable", slot.slot_variable_node_id()));
      RETURN_IF_ERROR(
          check_node(optimizer, "slot's original variable", slot.original_variable_node_id()));
      const int variable = slot.original_variable_node_id();
      const int slot_node = slot.slot_variable_node_id();
      if (paths[slot_node] || !paths[variable]) continue;
      paths[slot_node] = absl::StrCat(JoinPath(*paths[variable], ".OPTIMIZER_SLOT"), "/",
                                      JoinPath(*paths[optimizer], slot.slot_name()));
      order.push_back(slot_node);
    }
  }
  std::vector<CheckpointAttribute> attributes;
  for (int id : order) {
    for (const auto& attribute : graph.nodes(id).attributes()) {
      attributes.push_back({*paths[id], attribute.name(), attribute.checkpoint_key(), id});
    }
  }
  std::sort(attributes.begin(), attributes.end(),
            [](const CheckpointAttribute& a, const CheckpointAttribute& b) {
              return std::tie(a.object_path, a.attribute, a.node_id) <
                     std::tie(b.object_path, b.attribute, b.node_id);
            });
  return attributes;
}

absl::StatusOr<std::vector<CheckpointAttribute>> ListObjectAttributes(const BundleReader& reader) {
  ASSIGN_OR_RETURN(auto graph, ReadObjectGraph(reader));
  if (!graph) {
    return absl::NotFoundError(
        absl::StrCat(reader.prefix(), ": no object graph (\"", Sv(kObjectGraphKey),
                     "\"): a name-based (TF1) checkpoint has only the variable list"));
  }
  auto attributes = ListObjectAttributes(*graph);
  if (!attributes.ok()) return Annotate(attributes.status(), reader.prefix());
  return attributes;
}

absl::StatusOr<std::map<std::string, std::string>> ObjectPathToKey(const BundleReader& reader) {
  ASSIGN_OR_RETURN(std::vector<CheckpointAttribute> attributes, ListObjectAttributes(reader));
  std::map<std::string, std::string> result;
  for (const CheckpointAttribute& a : attributes)
    result.emplace(PathToKeyName(a), a.checkpoint_key);
  return result;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& prefix) {
  ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> reader, BundleReader::Open(prefix));
  return FromReader(std::move(reader));
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::FromReader(
    std::unique_ptr<BundleReader> reader) {
  std::unique_ptr<Checkpoint> checkpoint(new Checkpoint());
  ASSIGN_OR_RETURN(checkpoint->graph_, ReadObjectGraph(*reader));
  if (checkpoint->graph_) {
    auto attributes = ListObjectAttributes(*checkpoint->graph_);
    if (!attributes.ok()) return Annotate(attributes.status(), reader->prefix());
    checkpoint->attributes_ = std::move(*attributes);
    for (const CheckpointAttribute& a : checkpoint->attributes_) {
      checkpoint->path_to_key_.emplace(PathToKeyName(a), a.checkpoint_key);
    }
  }
  checkpoint->reader_ = std::move(reader);
  return checkpoint;
}

absl::StatusOr<engine::Tensor> Checkpoint::LookupObject(std::string_view object_path) const {
  auto it = path_to_key_.find(std::string(object_path));
  if (it == path_to_key_.end()) {
    return absl::NotFoundError(absl::StrCat(reader_->prefix(), ": no object at path \"",
                                            Sv(object_path), "\"",
                                            graph_ ? "" : " (the checkpoint has no object graph)"));
  }
  return reader_->Lookup(it->second);
}

}  // namespace savant::loader
