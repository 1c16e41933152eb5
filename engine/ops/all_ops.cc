// The explicit list of op families. No static-initialiser registration: what the engine supports
// is exactly what is listed here, in alphabetical order.
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {

void RegisterAllOps(OpRegistry& registry) {
  RegisterArrayOps(registry);
  RegisterBinaryOps(registry);
  RegisterImageOps(registry);
  RegisterIoOps(registry);
  RegisterMatMulOps(registry);
  RegisterNnOps(registry);
  RegisterParseExampleOps(registry);
  RegisterRandomOps(registry);
  RegisterReductionOps(registry);
  RegisterShapeOps(registry);
  RegisterUnaryOps(registry);
  RegisterVariableOps(registry);
}

}  // namespace savant::engine
