#include "engine/resource_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace savant::engine {

bool Variable::initialized() const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_.valid();
}

absl::StatusOr<Tensor> Variable::Read() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!value_.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("variable \"", name_, "\" is not initialized (was the checkpoint restored?)"));
  }
  return value_;
}

absl::Status Variable::Assign(Tensor value) {
  if (dtype_ != DataType::kInvalid && value.dtype() != dtype_) {
    return absl::InvalidArgumentError(absl::StrCat("variable \"", name_, "\": expected ",
                                                   DataTypeName(dtype_), ", got ",
                                                   DataTypeName(value.dtype())));
  }
  std::lock_guard<std::mutex> lock(mu_);
  value_ = std::move(value);
  return absl::OkStatus();
}

absl::StatusOr<Tensor> Variable::Update(
    const std::function<absl::StatusOr<Tensor>(const Tensor&)>& update) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!value_.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("variable \"", name_, "\" is not initialized"));
  }
  auto next = update(value_);
  if (!next.ok()) return next.status();
  value_ = *std::move(next);
  return value_;
}

std::string Variable::DebugString() const {
  return absl::StrCat("Variable(\"", name_, "\", ", DataTypeName(dtype_), " ", shape_.DebugString(),
                      ")");
}

std::shared_ptr<Resource> ResourceManager::Find(const std::string& container,
                                                const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = resources_.find(Key(container, name));
  return it == resources_.end() ? nullptr : it->second;
}

bool ResourceManager::Remove(const std::string& container, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return resources_.erase(Key(container, name)) > 0;
}

std::vector<std::shared_ptr<Variable>> ResourceManager::Variables() const {
  std::vector<std::shared_ptr<Variable>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, r] : resources_) {
      if (auto v = std::dynamic_pointer_cast<Variable>(r)) out.push_back(std::move(v));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return out;
}

}  // namespace savant::engine
