#include "engine/kernel.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace savant::engine {

const OpRegistry& OpRegistry::Global() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    RegisterAllOps(*r);
    return r;
  }();
  return *registry;
}

void OpRegistry::Add(std::string op, OpRegistration registration) {
  SAVANT_CHECK((registration.compute != nullptr) != static_cast<bool>(registration.factory))
      << "op " << op << " must set exactly one of compute or factory";
  auto [it, inserted] = ops_.emplace(std::move(op), std::move(registration));
  SAVANT_CHECK(inserted) << "op " << it->first << " registered twice";
}

const OpRegistration* OpRegistry::Find(absl::string_view op) const {
  auto it = ops_.find(op);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::OpNames() const {
  std::vector<std::string> names;
  names.reserve(ops_.size());
  for (const auto& [name, reg] : ops_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::unique_ptr<OpKernel>> CreateKernel(const OpRegistry& registry,
                                                       const KernelConstruction& c) {
  const OpRegistration* reg = registry.Find(c.node().op);
  if (reg == nullptr) {
    return absl::UnimplementedError(absl::StrCat("op \"", c.node().op, "\" is not supported"));
  }
  if (reg->compute != nullptr) return std::make_unique<FunctionKernel>(reg->compute);
  return reg->factory(c);
}

}  // namespace savant::engine
