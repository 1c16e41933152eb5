// Entry points of the `savant` binary's subcommands. Each takes argv with the subcommand name at
// argv[0] and returns the process exit code (0 success, 1 runtime error, 2 usage error).
#pragma once

namespace savant::server {

// savant inspect DIR|CHECKPOINT_PREFIX [--json] [--dot SIGNATURE] [--tag_set serve]
int InspectMain(int argc, char** argv);
// savant run DIR --signature_def NAME --inputs x=[[1.0],[2.0]] ...
int RunMain(int argc, char** argv);
// The model server (TensorFlow Serving's flags).
int ServeMain(int argc, char** argv);

}  // namespace savant::server
