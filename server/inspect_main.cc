// `savant inspect`: flags -> loader::Inspect -> text, JSON or DOT on stdout. The logic lives in
// loader/inspect.h; this file only parses the command line and maps errors to exit codes.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "loader/inspect.h"
#include "server/tools.h"

namespace savant::server {
namespace {

constexpr char kUsage[] =
    "usage: savant inspect DIR|CHECKPOINT_PREFIX [--tag_set TAGS] [--all] [--json] "
    "[--dot SIGNATURE]\n"
    "  DIR                a SavedModel directory (saved_model.pb or saved_model.pbtxt)\n"
    "  CHECKPOINT_PREFIX  a checkpoint prefix such as DIR/variables/variables: lists its variables\n"
    "  --tag_set TAGS     the meta graph to show, by its comma-separated tags (default: serve, or\n"
    "                     every meta graph when there is no serve one)\n"
    "  --all              show every meta graph\n"
    "  --json             print one JSON object instead of text\n"
    "  --dot SIGNATURE    print the Graphviz DOT of one signature's graph (functions inlined,\n"
    "                     pruned to what its outputs need)\n"
    "exit codes: 0 ok, 1 the model or checkpoint could not be read, 2 usage\n";

struct Flags {
  std::string path;
  loader::InspectOptions options;
  bool json = false;
  std::optional<std::string> dot;
};

int Usage(absl::string_view problem) {
  std::cerr << "savant inspect: " << problem << "\n" << kUsage;
  return 2;
}

// Parses argv (argv[0] is "inspect"). Returns the exit code on a usage error or --help.
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool takes_value = name == "--tag_set" || name == "--dot" || name == "--dir";
    if (takes_value && !value) {
      if (i + 1 >= argc) return Usage("flag " + name + " needs a value");
      value = argv[++i];
    }
    if (!takes_value && value) return Usage("flag " + name + " takes no value");
    if (name == "--json") {
      flags->json = true;
    } else if (name == "--all") {
      flags->options.all_meta_graphs = true;
    } else if (name == "--tag_set") {
      flags->options.tags.clear();
      for (absl::string_view tag : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
        flags->options.tags.insert(std::string(tag));
      }
      if (flags->options.tags.empty()) return Usage("--tag_set needs at least one tag");
    } else if (name == "--dot") {
      if (value->empty()) return Usage("--dot needs a signature key");
      flags->dot = *value;
    } else if (name == "--dir") {
      positional.push_back(*value);
    } else {
      return Usage("unknown flag " + name);
    }
  }
  if (positional.size() != 1) {
    return Usage(positional.empty() ? "missing DIR" : "expected exactly one DIR");
  }
  if (flags->json && flags->dot) return Usage("--json and --dot exclude each other");
  flags->path = positional[0];
  return std::nullopt;
}

}  // namespace

int InspectMain(int argc, char** argv) {
  Flags flags;
  if (auto exit_code = ParseFlags(argc, argv, &flags)) return *exit_code;
  auto report = loader::Inspect(flags.path, flags.options);
  if (!report.ok()) {
    std::cerr << "savant inspect: " << report.status().message() << "\n";
    return 1;
  }
  if (flags.dot) {
    auto dot = loader::SignatureDot(*report, *flags.dot);
    if (!dot.ok()) {
      std::cerr << "savant inspect: " << dot.status().message() << "\n";
      return 1;
    }
    std::cout << *dot;
  } else if (flags.json) {
    std::cout << loader::FormatInspectJson(*report) << "\n";
  } else {
    std::cout << loader::FormatInspectText(*report);
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace savant::server
