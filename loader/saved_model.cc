#include "loader/saved_model.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"

namespace savant::loader {
namespace fs = std::filesystem;
namespace {

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read error"));
  return ss.str();
}

// Collects text-format parse errors into one message instead of printing them to stderr.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (errors_.empty()) errors_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

}  // namespace

std::string JoinTags(const google::protobuf::RepeatedPtrField<std::string>& tags) {
  return absl::StrJoin(tags, ",");
}

absl::StatusOr<tensorflow::SavedModel> ParseSavedModel(absl::string_view bytes, bool text,
                                                       absl::string_view file_label) {
  tensorflow::SavedModel sm;
  if (text) {
    google::protobuf::TextFormat::Parser parser;
    ErrorCollector errors;
    parser.RecordErrorsTo(&errors);
    // Newer TensorFlow versions add fields; text files with them must still load.
    parser.AllowUnknownField(true);
    parser.AllowUnknownExtension(true);
    if (!parser.ParseFromString(std::string(bytes), &sm)) {
      return absl::DataLossError(
          absl::StrCat(file_label, ": not a text-format SavedModel: ", errors.errors()));
    }
  } else {
    google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
    google::protobuf::io::CodedInputStream coded(&raw);
    // Graphs with large constants exceed protobuf's default 64 MiB guard; TF allows up to 2 GiB.
    coded.SetTotalBytesLimit(INT32_MAX);
    if (!sm.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
      return absl::DataLossError(absl::StrCat(file_label, ": not a binary SavedModel protobuf (",
                                              bytes.size(), " bytes could not be parsed)"));
    }
  }
  if (sm.meta_graphs_size() == 0) {
    return absl::DataLossError(absl::StrCat(file_label, ": SavedModel has no meta graphs"));
  }
  return sm;
}

absl::StatusOr<std::unique_ptr<SavedModelFiles>> ReadSavedModel(const fs::path& dir,
                                                                const std::set<std::string>& tags) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": SavedModel directory not found"));
  }
  auto files = std::make_unique<SavedModelFiles>();
  files->dir = dir;
  bool text = false;
  if (fs::exists(dir / kSavedModelPb, ec)) {
    files->graph_file = dir / kSavedModelPb;
  } else if (fs::exists(dir / kSavedModelPbtxt, ec)) {
    files->graph_file = dir / kSavedModelPbtxt;
    text = true;
  } else {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": neither ", kSavedModelPb, " nor ",
                                            kSavedModelPbtxt, " exists"));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(files->graph_file));
  ASSIGN_OR_RETURN(files->saved_model, ParseSavedModel(bytes, text, files->graph_file.string()));

  std::vector<std::string> available;
  for (int i = 0; i < files->saved_model.meta_graphs_size(); ++i) {
    const auto& mg = files->saved_model.meta_graphs(i);
    std::set<std::string> have(mg.meta_info_def().tags().begin(), mg.meta_info_def().tags().end());
    if (have == tags) {
      files->meta_graph_index = i;
      break;
    }
    available.push_back(absl::StrCat("{", JoinTags(mg.meta_info_def().tags()), "}"));
  }
  if (files->meta_graph_index < 0) {
    return absl::NotFoundError(absl::StrCat(files->graph_file.string(), ": no meta graph with tags {",
                                            absl::StrJoin(tags, ","), "}; available: ",
                                            absl::StrJoin(available, " ")));
  }
  fs::path index = dir / "variables" / "variables.index";
  if (fs::exists(index, ec)) files->variables_prefix = dir / "variables" / "variables";
  fs::path fingerprint = dir / "fingerprint.pb";
  if (fs::exists(fingerprint, ec)) {
    ASSIGN_OR_RETURN(std::string fp, ReadFile(fingerprint));
    if (!files->fingerprint.ParseFromString(fp)) {
      return absl::DataLossError(absl::StrCat(fingerprint.string(), ": not a FingerprintDef"));
    }
    files->has_fingerprint = true;
  }
  return files;
}

}  // namespace savant::loader
