#include <iostream>

#include "server/tools.h"

namespace savant::server {

int ServeMain(int argc, char** argv) {
  // TODO(#6): the gRPC/REST model server. Until then the binary offers its tool subcommands.
  std::cerr << "savant: the model server is not built yet (issue #6); available now:\n"
               "  savant inspect DIR [--json]\n"
               "  savant run DIR --signature_def NAME --inputs x=[[1.0],[2.0]]\n";
  return 2;
}

}  // namespace savant::server
