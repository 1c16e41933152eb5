#include "tests/integration/suite_server.h"

#include "absl/strings/str_cat.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/util/fixtures.h"

namespace savant::testing {

namespace fs = std::filesystem;

std::unique_ptr<SuiteServer> SuiteServer::Start(const Options& options) {
  std::unique_ptr<SuiteServer> owner(new SuiteServer);
  SuiteServer& s = *owner;
  auto resolve = [](const fs::path& p) { return p.is_absolute() ? absl::StatusOr<fs::path>(p) : FixturePath(p.string()); };
  for (const std::string& f : options.fixtures) {
    if (auto path = FixturePath(f); !path.ok()) {
      s.skip_reason_ = std::string(path.status().message());
      return owner;
    }
  }
  std::vector<std::pair<const SuiteModel*, fs::path>> sources;
  for (const SuiteModel& m : options.models) {
    auto path = resolve(m.source);
    if (path.ok() && fs::exists(*path)) {
      sources.emplace_back(&m, *path);
      continue;
    }
    const std::string why = path.ok() ? absl::StrCat("fixture missing: ", path->string()) : std::string(path.status().message());
    if (!m.optional) {
      s.skip_reason_ = why;
      return owner;
    }
    absl::StrAppend(&s.missing_, s.missing_.empty() ? "" : "; ", why);
  }
  s.dir_ = MakeTempDir(options.name);
  const fs::path models = s.dir_ / "models";
  std::string config = "model_config_list {\n";
  for (const auto& [m, path] : sources) {
    CopyTree(path, models / m->name);
    absl::StrAppend(&config, "  config {\n    name: \"", m->name, "\"\n    base_path: \"", (models / m->name).string(),
                    "\"\n    model_platform: \"tensorflow\"\n", m->config_fields.empty() ? "" : "    ",
                    m->config_fields, m->config_fields.empty() ? "" : "\n", "  }\n");
  }
  config.append("}\n");
  if (options.before_start) options.before_start(models);
  WriteFileAtomically(s.dir_ / "models.config", config);
  std::vector<std::string> args = {"--model_config_file=" + (s.dir_ / "models.config").string()};
  args.insert(args.end(), options.flags.begin(), options.flags.end());
  auto server = ServerProcess::Start(args, s.dir_);
  if (!server.ok()) {
    s.start_error_ = server.status().ToString();
    return owner;
  }
  s.process_ = *std::move(server);
  return owner;
}

SuiteServer::~SuiteServer() {
  process_.reset();
  if (!dir_.empty()) fs::remove_all(dir_);
}

}  // namespace savant::testing
