// Runs the real `savant` binary as a child process and captures its output, for integration tests.
#pragma once

#include <string>
#include <vector>

namespace savant::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is the program path) to completion, capturing stdout and stderr.
ProcessResult RunProcess(const std::vector<std::string>& argv);

}  // namespace savant::testing
