#include <iostream>
#include <string>

#include "loader/saved_model.h"
#include "server/tools.h"

namespace savant::server {

int InspectMain(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: savant inspect DIR [--json]\n";
    return 2;
  }
  auto files = loader::ReadSavedModel(argv[1]);
  if (!files.ok()) {
    std::cerr << "savant inspect: " << files.status().message() << "\n";
    return 1;
  }
  const auto& mg = (*files)->meta_graph();
  std::cout << "tags: " << loader::JoinTags(mg.meta_info_def().tags()) << "\n";
  for (const auto& [key, sig] : mg.signature_def()) std::cout << "signature: " << key << "\n";
  return 0;
}

}  // namespace savant::server
