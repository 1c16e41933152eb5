#include "server/model_manager.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "server/metrics.h"

namespace savant::server {
namespace {

using tensorflow::serving::ModelConfig;
using tensorflow::serving::ModelConfigList;

// Shutdown waits this long for in-flight requests to release unloading versions before it drops
// them anyway (the front ends have drained by then, so this only guards against a leaked handle).
constexpr auto kUnloadDrainTimeout = std::chrono::seconds(30);
// How often the reaper re-checks versions that in-flight requests still hold.
constexpr auto kReaperInterval = std::chrono::milliseconds(2);

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

std::chrono::nanoseconds ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

absl::Status ValidateConfig(const ModelConfigList& config) {
  std::set<std::string> names;
  for (const ModelConfig& model : config.config()) {
    if (model.name().empty()) {
      return absl::InvalidArgumentError("a model in the config list has an empty name");
    }
    if (!names.insert(model.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Illegal to list model ", model.name(), " multiple times in config list"));
    }
    if (model.base_path().empty() || !std::filesystem::path(model.base_path()).is_absolute()) {
      return absl::InvalidArgumentError(absl::StrCat("Expected model ", model.name(),
                                                     " to have an absolute path or URI; got base_path()=",
                                                     model.base_path()));
    }
    // TensorFlow Serving insists on model_platform "tensorflow"; an empty one (or the deprecated
    // model_type TENSORFLOW) means the same here.
    if (!model.model_platform().empty() && model.model_platform() != "tensorflow") {
      return absl::InvalidArgumentError(absl::StrCat("Model ", model.name(),
                                                     " requests unsupported platform ",
                                                     model.model_platform()));
    }
  }
  return absl::OkStatus();
}

// Moves a version to `state` and exports it (savant_model_version_state). A template only because
// VersionEntry is private to ModelManager.
template <typename Entry>
void SetState(const std::string& name, int64_t version, Entry& entry, VersionState state) {
  entry.state = state;
  entry.state_since = absl::Now();
  Metrics::Global().SetVersionState(name, version, VersionStateName(state));
}

}  // namespace

std::string ServableRequestString(const std::string& name, std::optional<int64_t> version) {
  if (version.has_value()) return absl::StrCat("Specific(", name, ", ", *version, ")");
  return absl::StrCat("Latest(", name, ")");
}

const char* VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kStart:
      return "START";
    case VersionState::kLoading:
      return "LOADING";
    case VersionState::kAvailable:
      return "AVAILABLE";
    case VersionState::kUnloading:
      return "UNLOADING";
    case VersionState::kEnd:
      return "END";
  }
  return "UNKNOWN";
}

ModelManager::ModelManager(ModelManagerOptions options) : options_(std::move(options)) {
  serving_map_.store(std::make_shared<const ServingMap>());
  StartThreads();
}

ModelManager::~ModelManager() { Shutdown(); }

void ModelManager::StartThreads() {
  const int n = std::max(1, options_.num_load_threads);
  for (int i = 0; i < n; ++i) {
    load_threads_.emplace_back([this](std::stop_token stop) { LoadWorker(stop); });
  }
  reaper_thread_ = std::jthread([this](std::stop_token stop) { ReaperLoop(stop); });
}

void ModelManager::StartPolling() {
  if (options_.poll_interval <= absl::ZeroDuration() || poll_thread_.joinable()) return;
  poll_thread_ = std::jthread([this](std::stop_token stop) {
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, stop, ToChrono(options_.poll_interval), [&] { return stopping_; });
        if (stop.stop_requested() || stopping_) return;
      }
      Poll();
    }
  });
}

absl::Status ModelManager::ApplyConfig(const ModelConfigList& config) {
  RETURN_IF_ERROR(ValidateConfig(config));
  std::lock_guard reconcile(reconcile_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    std::set<std::string> wanted;
    for (const ModelConfig& model : config.config()) {
      wanted.insert(model.name());
      ModelEntry& entry = models_[model.name()];
      if (!entry.configured) {
        SAVANT_LOG(INFO) << "model=" << model.name() << " state=added base_path=" << model.base_path()
                         << " policy=" << loader::VersionPolicyDebugString(model.model_version_policy());
      }
      entry.config = model;
      entry.configured = true;
    }
    for (auto& [name, entry] : models_) {
      if (entry.configured && !wanted.contains(name)) {
        entry.configured = false;
        entry.labels.clear();
        entry.last_scan_problem.clear();
        SAVANT_LOG(INFO) << "model=" << name << " state=removed";
      }
    }
  }
  const auto started = PollLocked();

  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    return stopping_ || std::none_of(started.begin(), started.end(), [&](const auto& key) {
             return IsBusy(key.first, key.second);
           });
  });
  if (stopping_) return absl::UnavailableError("the server is shutting down");

  // Labels go in last, once the versions they name had their chance to load. TensorFlow Serving
  // only lets a label point at an AVAILABLE version, unless the flag allows a new (or unchanged)
  // label to point at a version still on its way.
  std::map<std::string, std::map<std::string, int64_t>> labels;
  for (const ModelConfig& model : config.config()) {
    const ModelEntry& entry = models_.at(model.name());
    for (const auto& [label, version] : model.version_labels()) {
      auto v = entry.versions.find(version);
      const bool available = v != entry.versions.end() && v->second.state == VersionState::kAvailable;
      bool allowed = available;
      if (!available && options_.allow_version_labels_for_unavailable_models) {
        auto old = entry.labels.find(label);
        allowed = old == entry.labels.end() || old->second == version;
      }
      if (!allowed) {
        return absl::FailedPreconditionError(absl::StrCat(
            "Request to assign label to version ", version, " of model ", model.name(),
            ", which is not currently available for inference"));
      }
      labels[model.name()][label] = version;
    }
  }
  for (auto& [name, entry] : models_) {
    if (!entry.configured) continue;
    auto it = labels.find(name);
    entry.labels = it == labels.end() ? std::map<std::string, int64_t>() : it->second;
  }
  Publish();
  SAVANT_LOG(INFO) << "config state=applied models=" << config.config_size();
  return absl::OkStatus();
}

void ModelManager::Poll() {
  std::lock_guard reconcile(reconcile_mu_);
  PollLocked();
}

std::vector<std::pair<std::string, int64_t>> ModelManager::PollLocked() {
  std::vector<loader::VersionWatcher> watchers;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return {};
    for (const auto& [name, entry] : models_) {
      if (!entry.configured) continue;
      watchers.emplace_back(name, entry.config.base_path(), entry.config.model_version_policy());
    }
  }
  // File-system work happens outside mu_, so status queries and load completions never wait on it.
  std::map<std::string, absl::StatusOr<loader::VersionPaths>> scans;
  for (const auto& watcher : watchers) scans.emplace(watcher.model_name(), watcher.Scan());

  std::vector<std::pair<std::string, int64_t>> queued;
  std::lock_guard lock(mu_);
  if (stopping_) return {};
  for (auto& [name, model] : models_) {
    if (!model.configured) {
      for (auto& [version, entry] : model.versions) entry.aspired = false;
    } else {
      const auto& scan = scans.at(name);
      std::string problem;
      if (!scan.ok()) {
        problem = std::string(scan.status().message());
      } else if (scan->empty()) {
        problem = absl::StrCat("no versions of model \"", name, "\" found under base path \"",
                               model.config.base_path(), "\" with policy ",
                               loader::VersionPolicyDebugString(model.config.model_version_policy()));
      }
      if (problem != model.last_scan_problem) {
        if (!problem.empty()) SAVANT_LOG(WARNING) << "model=" << name << " state=polled problem=\"" << problem << "\"";
        model.last_scan_problem = problem;
      }
      // As in TensorFlow Serving, a base path that cannot be read keeps the versions aspired
      // before; only a successful scan changes them.
      if (scan.ok()) {
        for (auto& [version, entry] : model.versions) {
          const bool was_aspired = entry.aspired;
          auto found = scan->find(version);
          entry.aspired = found != scan->end();
          // A version that returns after it was unloaded (or after it failed and its directory
          // was replaced) loads again; one that failed and stayed aspired is not retried.
          if (entry.aspired && !was_aspired && entry.state == VersionState::kEnd) {
            SetState(name, version, entry, VersionState::kStart);
            entry.status = absl::OkStatus();
          }
          if (entry.aspired) entry.dir = found->second;
        }
        for (const auto& [version, dir] : *scan) {
          if (model.versions.contains(version)) continue;
          VersionEntry& entry = model.versions[version];
          entry.aspired = true;
          entry.dir = dir;
          SetState(name, version, entry, VersionState::kStart);
        }
      }
    }
    for (auto it = model.versions.rbegin(); it != model.versions.rend(); ++it) {
      VersionEntry& entry = it->second;
      const bool pending = entry.state == VersionState::kStart || entry.state == VersionState::kLoading;
      entry.cancel = pending && !entry.aspired;
      if (entry.aspired && entry.state == VersionState::kStart && !entry.cancel) {
        bool already_queued = std::any_of(load_queue_.begin(), load_queue_.end(), [&](const LoadTask& t) {
          return t.name == name && t.version == it->first;
        });
        if (!already_queued) {
          load_queue_.push_back({name, it->first, entry.dir});
          queued.emplace_back(name, it->first);
        }
      }
    }
    ApplyAvailabilityPolicy(name, model);
  }
  Publish();
  cv_.notify_all();
  return queued;
}

bool ModelManager::IsBusy(const std::string& name, int64_t version) const {
  auto m = models_.find(name);
  if (m == models_.end()) return false;
  auto v = m->second.versions.find(version);
  if (v == m->second.versions.end()) return false;
  return v->second.state == VersionState::kStart || v->second.state == VersionState::kLoading;
}

void ModelManager::ApplyAvailabilityPolicy(const std::string& name, ModelEntry& model) {
  bool has_aspired = false;
  bool has_aspired_serving = false;
  std::vector<int64_t> unaspired_serving;  // ascending
  for (const auto& [version, entry] : model.versions) {
    if (entry.aspired) {
      has_aspired = true;
      has_aspired_serving |= entry.state == VersionState::kAvailable;
    } else if (entry.state == VersionState::kAvailable) {
      unaspired_serving.push_back(version);
    }
  }
  // Unload the oldest unaspired version while an aspired one serves, or nothing aspired is left,
  // or more than one unaspired version serves (one is enough to bridge the gap).
  size_t i = 0;
  while (i < unaspired_serving.size() &&
         (!has_aspired || has_aspired_serving || unaspired_serving.size() - i > 1)) {
    Retire(name, unaspired_serving[i], model.versions.at(unaspired_serving[i]));
    ++i;
  }
}

void ModelManager::Retire(const std::string& name, int64_t version, VersionEntry& entry) {
  SetState(name, version, entry, VersionState::kUnloading);
  retired_.push_back({name, version, std::move(entry.handle), absl::Now()});
  entry.handle.reset();
  SAVANT_LOG(INFO) << "model=" << name << " version=" << version << " state=unloading";
  cv_.notify_all();
}

void ModelManager::Publish() {
  auto map = std::make_shared<ServingMap>();
  for (const auto& [name, model] : models_) {
    ServingMap::Model* published = nullptr;
    for (const auto& [version, entry] : model.versions) {
      if (entry.state != VersionState::kAvailable || entry.handle == nullptr) continue;
      if (published == nullptr) published = &map->models[name];
      published->versions.emplace(version, entry.handle);
    }
    if (model.configured && !model.labels.empty()) {
      if (published == nullptr) published = &map->models[name];
      published->labels = model.labels;
    }
  }
  serving_map_.store(std::move(map));
}

void ModelManager::LoadWorker(std::stop_token stop) {
  while (true) {
    LoadTask task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [&] { return !load_queue_.empty(); });
      if (load_queue_.empty()) return;  // stop requested
      task = std::move(load_queue_.front());
      load_queue_.pop_front();
      ++loads_running_;
    }
    RunLoad(stop, task);
    std::lock_guard lock(mu_);
    --loads_running_;
    cv_.notify_all();
  }
}

void ModelManager::RunLoad(std::stop_token stop, const LoadTask& task) {
  const std::string& name = task.name;
  const int64_t version = task.version;
  auto entry_of = [&]() -> VersionEntry* {
    auto m = models_.find(name);
    if (m == models_.end()) return nullptr;
    auto v = m->second.versions.find(version);
    return v == m->second.versions.end() ? nullptr : &v->second;
  };
  {
    std::lock_guard lock(mu_);
    VersionEntry* entry = entry_of();
    if (entry == nullptr || entry->state != VersionState::kStart) return;
    if (entry->cancel || stopping_) {
      SetState(name, version, *entry, VersionState::kEnd);
      cv_.notify_all();
      return;
    }
    SetState(name, version, *entry, VersionState::kLoading);
  }
  SAVANT_LOG(INFO) << "model=" << name << " version=" << version << " state=loading dir=" << task.dir.string();

  const absl::Time start = absl::Now();
  absl::Status status;
  VersionHandle handle;
  int attempts = 0;
  bool cancelled = false;
  for (int attempt = 0; attempt <= std::max(0, options_.max_load_retries); ++attempt) {
    ++attempts;
    const absl::Time attempt_start = absl::Now();
    auto model = options_.load(name, version, task.dir);
    Metrics::Global().RecordModelLoad(name, version, task.dir.string(), model.status(), absl::Now() - attempt_start);
    if (model.ok()) {
      auto loaded = std::make_shared<LoadedVersion>(LoadedVersion{name, version, task.dir, *std::move(model)});
      status = absl::OkStatus();
      if (options_.warmup) {
        const absl::Time warmup_start = absl::Now();
        status = options_.warmup(*loaded);
        Metrics::Global().RecordWarmup(name, version, task.dir.string(), status, absl::Now() - warmup_start);
        status = Annotate(status, "warmup");
      }
      if (status.ok()) {
        handle = std::move(loaded);
        break;
      }
    } else {
      status = model.status();
    }
    if (attempt == options_.max_load_retries) break;
    SAVANT_LOG(WARNING) << "model=" << name << " version=" << version << " state=retrying attempt="
                        << attempts << " retry_in_ms=" << Millis(options_.load_retry_interval)
                        << " error=\"" << status.message() << "\"";
    std::unique_lock lock(mu_);
    VersionEntry* entry = entry_of();
    cv_.wait_for(lock, stop, ToChrono(options_.load_retry_interval),
                 [&] { return stopping_ || entry == nullptr || entry->cancel; });
    if (stop.stop_requested() || stopping_ || entry == nullptr || entry->cancel) {
      cancelled = true;
      break;
    }
  }
  const int64_t load_ms = Millis(absl::Now() - start);

  VersionHandle discard;  // destroyed after the lock is released, on this load thread
  {
    std::lock_guard lock(mu_);
    VersionEntry* entry = entry_of();
    if (entry == nullptr) return;
    if (handle != nullptr && entry->aspired && !entry->cancel && !stopping_) {
      SetState(name, version, *entry, VersionState::kAvailable);
      entry->status = absl::OkStatus();
      entry->handle = handle;
      SAVANT_LOG(INFO) << "model=" << name << " version=" << version << " state=loaded load_ms=" << load_ms;
    } else if (handle != nullptr || cancelled) {
      // The version stopped being aspired while it loaded: it never serves.
      SetState(name, version, *entry, VersionState::kEnd);
      if (handle != nullptr) entry->status = absl::OkStatus();
      SAVANT_LOG(INFO) << "model=" << name << " version=" << version
                       << (handle != nullptr ? " state=unloaded reason=not_aspired" : " state=cancelled");
      discard = std::move(handle);
    } else {
      SetState(name, version, *entry, VersionState::kEnd);
      entry->status = status;
      SAVANT_LOG(ERROR) << "model=" << name << " version=" << version << " state=failed load_ms=" << load_ms
                        << " attempts=" << attempts << " error=\"" << status.message() << "\"";
    }
    ApplyAvailabilityPolicy(name, models_.at(name));
    Publish();
    cv_.notify_all();
  }
}

void ModelManager::ReaperLoop(std::stop_token stop) {
  while (true) {
    std::vector<VersionHandle> dead;
    bool more = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [&] { return !retired_.empty(); });
      if (retired_.empty()) return;  // stop requested
      // use_count() == 1: only this list holds the version. No published map refers to it any
      // more, so no request can obtain it again, and the count cannot rise.
      for (auto it = retired_.begin(); it != retired_.end();) {
        if (it->handle.use_count() > 1) {
          ++it;
          continue;
        }
        auto m = models_.find(it->name);
        if (m != models_.end()) {
          auto v = m->second.versions.find(it->version);
          if (v != m->second.versions.end() && v->second.state == VersionState::kUnloading) {
            SetState(it->name, it->version, v->second, VersionState::kEnd);
            v->second.status = absl::OkStatus();
          }
        }
        SAVANT_LOG(INFO) << "model=" << it->name << " version=" << it->version
                         << " state=unloaded drain_ms=" << Millis(absl::Now() - it->since);
        dead.push_back(std::move(it->handle));
        it = retired_.erase(it);
      }
      more = !retired_.empty();
      if (!dead.empty()) cv_.notify_all();
    }
    dead.clear();  // the models are destroyed here, on this lifecycle thread
    if (more) std::this_thread::sleep_for(kReaperInterval);
  }
}

void ModelManager::WaitUntilIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    if (!load_queue_.empty() || loads_running_ > 0 || !retired_.empty()) return false;
    for (const auto& [name, model] : models_) {
      for (const auto& [version, entry] : model.versions) {
        if (entry.state == VersionState::kLoading) return false;
      }
    }
    return true;
  });
}

absl::Status ModelManager::AwaitModelsAvailable() {
  std::unique_lock lock(mu_);
  while (true) {
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    bool all = true;
    std::vector<std::string> failed;
    for (const auto& [name, model] : models_) {
      if (!model.configured) continue;
      bool available = false, pending = false;
      const VersionEntry* last_failed = nullptr;
      for (const auto& [version, entry] : model.versions) {
        available |= entry.state == VersionState::kAvailable;
        if (!entry.aspired) continue;
        pending |= entry.state == VersionState::kStart || entry.state == VersionState::kLoading;
        if (entry.state == VersionState::kEnd) last_failed = &entry;
      }
      if (available) continue;
      all = false;
      if (!pending && last_failed != nullptr) {
        failed.push_back(absl::StrCat("{", ServableRequestString(name, std::nullopt), " due to error: ",
                                      last_failed->status.ToString(), "}"));
      }
    }
    if (!failed.empty()) {
      return absl::UnknownError(absl::StrCat(failed.size(), " model(s) did not become available: {",
                                             absl::StrJoin(failed, ", "), "}"));
    }
    if (all) return absl::OkStatus();
    cv_.wait(lock);
  }
}

void ModelManager::BeginShutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [name, model] : models_) {
      for (auto& [version, entry] : model.versions) {
        if (entry.state == VersionState::kStart || entry.state == VersionState::kLoading) entry.cancel = true;
      }
    }
    cv_.notify_all();
  }
  if (poll_thread_.joinable()) {
    poll_thread_.request_stop();
    poll_thread_.join();
  }
}

void ModelManager::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
  }
  BeginShutdown();
  std::lock_guard reconcile(reconcile_mu_);  // an ApplyConfig in progress has returned
  for (auto& t : load_threads_) t.request_stop();
  for (auto& t : load_threads_) {
    if (t.joinable()) t.join();
  }
  std::unique_lock lock(mu_);
  load_queue_.clear();
  for (auto& [name, model] : models_) {
    for (auto& [version, entry] : model.versions) {
      entry.aspired = false;
      if (entry.state == VersionState::kStart) SetState(name, version, entry, VersionState::kEnd);
      if (entry.state == VersionState::kAvailable) Retire(name, version, entry);
    }
    model.labels.clear();
  }
  Publish();
  if (!cv_.wait_for(lock, kUnloadDrainTimeout, [&] { return retired_.empty(); })) {
    SAVANT_LOG(WARNING) << "state=shutdown problem=\"" << retired_.size()
                        << " version(s) still in use after the drain timeout; dropping them\"";
  }
  lock.unlock();
  reaper_thread_.request_stop();
  if (reaper_thread_.joinable()) reaper_thread_.join();
  lock.lock();
  retired_.clear();
  shut_down_ = true;
}

absl::StatusOr<VersionHandle> ModelManager::Find(const ModelSelector& selector) const {
  std::shared_ptr<const ServingMap> map = serving_map_.load();
  auto model = map->models.find(selector.name);
  std::optional<int64_t> version = selector.version;
  if (selector.label.has_value()) {
    bool found = false;
    if (model != map->models.end()) {
      auto label = model->second.labels.find(*selector.label);
      if (label != model->second.labels.end()) {
        version = label->second;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("Unrecognized servable version label: ", *selector.label));
    }
  }
  if (model != map->models.end() && !model->second.versions.empty()) {
    const auto& versions = model->second.versions;
    if (!version.has_value()) return versions.rbegin()->second;
    auto it = versions.find(*version);
    if (it != versions.end()) return it->second;
  }
  return absl::NotFoundError(
      absl::StrCat("Servable not found for request: ", ServableRequestString(selector.name, version)));
}

absl::StatusOr<std::vector<VersionStatus>> ModelManager::GetModelStatus(const std::string& name,
                                                                        std::optional<int64_t> version) const {
  std::lock_guard lock(mu_);
  auto model = models_.find(name);
  if (version.has_value()) {
    if (model != models_.end()) {
      auto v = model->second.versions.find(*version);
      if (v != model->second.versions.end()) return std::vector<VersionStatus>{{*version, v->second.state, v->second.status}};
    }
    return absl::NotFoundError(absl::StrCat("Could not find version ", *version, " of model ", name));
  }
  if (model == models_.end() || model->second.versions.empty()) {
    return absl::NotFoundError(absl::StrCat("Could not find any versions of model ", name));
  }
  std::vector<VersionStatus> out;
  for (auto it = model->second.versions.rbegin(); it != model->second.versions.rend(); ++it) {
    out.push_back({it->first, it->second.state, it->second.status});
  }
  return out;
}

std::vector<std::string> ModelManager::ModelNames() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, model] : models_) {
    if (model.configured) names.push_back(name);
  }
  return names;
}

bool ModelManager::AllModelsAvailable() const {
  std::lock_guard lock(mu_);
  for (const auto& [name, model] : models_) {
    if (!model.configured) continue;
    bool available = std::any_of(model.versions.begin(), model.versions.end(),
                                 [](const auto& v) { return v.second.state == VersionState::kAvailable; });
    if (!available) return false;
  }
  return true;
}

}  // namespace savant::server
