// Per-model mutable state: variables (TF1 VariableV2 and TF2 resource variables) and other
// resources, keyed by (container, shared_name) as TensorFlow's ResourceMgr does. Shared by every
// Function compiled from one model. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace savant::engine {

// A variable's value. Readers get a snapshot tensor; writers replace or update the value under the
// variable's own lock, so concurrent requests never see a torn update. Thread-safe.
class Variable final : public Resource {
 public:
  Variable(std::string name, DataType dtype, PartialShape shape)
      : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {}

  const std::string& name() const { return name_; }
  DataType dtype() const { return dtype_; }
  const PartialShape& shape() const { return shape_; }

  bool initialized() const;
  // The current value; FAILED_PRECONDITION naming the variable when it was never assigned.
  absl::StatusOr<Tensor> Read() const;
  // Replaces the value (the tensor is shared, not copied).
  absl::Status Assign(Tensor value);
  // Applies `update(current)` atomically and returns the new value. The callback builds a new tensor
  // (copy-on-write), so readers holding the previous snapshot are unaffected.
  absl::StatusOr<Tensor> Update(const std::function<absl::StatusOr<Tensor>(const Tensor&)>& update);
  std::string DebugString() const override;

 private:
  const std::string name_;
  const DataType dtype_;
  const PartialShape shape_;
  mutable std::mutex mu_;
  Tensor value_;  // guarded by mu_
};

class ResourceManager {
 public:
  // Returns the resource under (container, name), creating it with `create` when absent.
  // INVALID_ARGUMENT when one exists with another type.
  template <typename T>
  absl::StatusOr<std::shared_ptr<T>> LookupOrCreate(const std::string& container,
                                                    const std::string& name,
                                                    const std::function<std::shared_ptr<T>()>& create) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = resources_[Key(container, name)];
    if (slot == nullptr) slot = create();
    auto typed = std::dynamic_pointer_cast<T>(slot);
    if (typed == nullptr) {
      return absl::InvalidArgumentError("resource \"" + name + "\" exists with another type");
    }
    return typed;
  }
  // Returns the resource or nullptr.
  std::shared_ptr<Resource> Find(const std::string& container, const std::string& name) const;
  // Removes it; no error when absent (DestroyResourceOp with ignore_lookup_error).
  bool Remove(const std::string& container, const std::string& name);
  // Every variable, sorted by name (for inspection and tests).
  std::vector<std::shared_ptr<Variable>> Variables() const;

 private:
  static std::string Key(const std::string& container, const std::string& name) {
    return container + '\0' + name;
  }
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Resource>> resources_;
};

}  // namespace savant::engine
