// Reads a SavedModel directory: saved_model.pb (binary) or saved_model.pbtxt (text), selects the
// MetaGraphDef by tag set, and locates the variables checkpoint, assets and fingerprint. Pure file
// reading: nothing here compiles or runs a graph (see model.h for that).
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensorflow/core/protobuf/fingerprint.pb.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"

namespace savant::loader {

inline constexpr char kServeTag[] = "serve";
inline constexpr char kSavedModelPb[] = "saved_model.pb";
inline constexpr char kSavedModelPbtxt[] = "saved_model.pbtxt";
inline constexpr char kDefaultSignature[] = "serving_default";
inline constexpr char kInitOpSignatureKey[] = "__saved_model_init_op";
inline constexpr char kLegacyInitOpKey[] = "legacy_init_op";
inline constexpr char kMainOpKey[] = "saved_model_main_op";

// One SavedModel directory as read from disk. Immutable after ReadSavedModel.
struct SavedModelFiles {
  std::filesystem::path dir;
  std::filesystem::path graph_file;        // saved_model.pb or saved_model.pbtxt
  tensorflow::SavedModel saved_model;      // every meta graph
  int meta_graph_index = -1;               // the one chosen by tags
  std::filesystem::path variables_prefix;  // dir/variables/variables; empty when no variables
  bool has_fingerprint = false;
  tensorflow::FingerprintDef fingerprint;

  const tensorflow::MetaGraphDef& meta_graph() const {
    return saved_model.meta_graphs(meta_graph_index);
  }
};

// Reads `dir`. Tags default to {"serve"}. Errors:
//   NOT_FOUND       the directory or both saved_model.pb and .pbtxt are missing
//   DATA_LOSS       the file does not parse (names the file and the parser's complaint)
//   NOT_FOUND       no meta graph has exactly `tags` (lists the tag sets that exist)
absl::StatusOr<std::unique_ptr<SavedModelFiles>> ReadSavedModel(
    const std::filesystem::path& dir, const std::set<std::string>& tags = {kServeTag});

// Parses a SavedModel from bytes (binary when `text` is false). Used by ReadSavedModel and the fuzzer.
absl::StatusOr<tensorflow::SavedModel> ParseSavedModel(absl::string_view bytes, bool text,
                                                       absl::string_view file_label);

// "serve,gpu" for a tag set, as saved_model_cli prints it.
std::string JoinTags(const google::protobuf::RepeatedPtrField<std::string>& tags);

}  // namespace savant::loader
