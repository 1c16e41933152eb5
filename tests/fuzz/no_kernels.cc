// Linked into the fuzz build in place of engine/ops/all_ops.cc (see loader/CMakeLists.txt), so the
// libFuzzer targets compile the graph importer and the inspector without the kernels they never
// run. OpRegistry::Global() is the only caller; a fuzz target that reaches it is wired wrongly
// (it would report every op as unsupported), so it stops loudly instead of going on.
#include "engine/base/logging.h"
#include "engine/kernel.h"

namespace savant::engine {

void RegisterAllOps(OpRegistry&) {
  SAVANT_CHECK(false) << "the fuzz build has no kernels: a fuzz target must pass its own "
                         "OpRegistry instead of OpRegistry::Global()";
}

}  // namespace savant::engine
