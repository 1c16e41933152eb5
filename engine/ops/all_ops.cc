// The explicit list of op families. No static-initialiser registration: what the engine supports
// is exactly what is listed here, in alphabetical order.
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {

void RegisterAllOps(OpRegistry& registry) {
  RegisterArrayOps(registry);
  RegisterBinaryOps(registry);
  RegisterIoOps(registry);
  RegisterMatMulOps(registry);
  RegisterParseExampleOps(registry);
  RegisterVariableOps(registry);
}

}  // namespace savant::engine
