// The `savant` binary: the model server, plus tool subcommands that share its loader and engine.
//   savant inspect DIR [--json] [--dot SIGNATURE]
//   savant run DIR --signature_def NAME --inputs x=[[1.0],[2.0]]
//   savant --port=8500 --rest_api_port=8501 --model_name=NAME --model_base_path=PATH
#include <cstring>
#include <iostream>
#include <string_view>

#include "server/tools.h"

int main(int argc, char** argv) {
  if (argc >= 2) {
    std::string_view cmd = argv[1];
    if (cmd == "inspect") return savant::server::InspectMain(argc - 1, argv + 1);
    if (cmd == "run") return savant::server::RunMain(argc - 1, argv + 1);
    if (cmd == "--version" || cmd == "version") {
      std::cout << "savant 0.1.0\n";
      return 0;
    }
  }
  return savant::server::ServeMain(argc, argv);
}
