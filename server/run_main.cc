#include <iostream>

#include "server/tools.h"

namespace savant::server {

int RunMain(int argc, char** argv) {
  std::cerr << "savant run: not built yet\n";
  return 2;
}

}  // namespace savant::server
