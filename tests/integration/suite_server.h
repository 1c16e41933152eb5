// One real `savant` server shared by every test of a suite: the suite's models are copied (fixtures
// are read-only) into a temporary directory, listed in a ModelServerConfig file, and served. A
// missing fixture skips the suite; a server that does not start fails each test with its log.
//
//   static void SetUpTestSuite() {
//     server_ = SuiteServer::Start({.name = "my_test",
//                                   .models = {{"half_plus_two", "tfserving/saved_model_half_plus_two_cpu"}}});
//   }
//   static void TearDownTestSuite() { server_.reset(); }
//   void SetUp() override { SAVANT_SUITE_SERVER_OR_SKIP(*server_); }
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/server_process.h"

namespace savant::testing {

struct SuiteModel {
  std::string name;  // the model's name in the config, and its directory under models/
  // A fixture path relative to the fixtures root ("tfserving/saved_model_counter"), or absolute.
  std::filesystem::path source;
  std::string config_fields;  // more ModelConfig fields, e.g. "model_version_policy { all {} }"
  bool optional = false;      // a missing optional fixture is left out (see SuiteServer::missing)
};

class SuiteServer {
 public:
  struct Options {
    std::string name;  // temporary directory prefix
    std::vector<SuiteModel> models;
    std::vector<std::string> fixtures;  // other fixture files the suite reads; missing ones skip it
    std::vector<std::string> flags;     // besides --model_config_file
    // Runs after the copies and before the server starts (e.g. to write warmup files).
    std::function<void(const std::filesystem::path& models_dir)> before_start;
  };

  // Never null; check skip_reason() and start_error() (SAVANT_SUITE_SERVER_OR_SKIP).
  static std::unique_ptr<SuiteServer> Start(const Options& options);

  SuiteServer(const SuiteServer&) = delete;
  SuiteServer& operator=(const SuiteServer&) = delete;
  ~SuiteServer();  // stops the server, removes the directory

  // Why the suite is skipped (a fixture is missing); empty otherwise.
  const std::string& skip_reason() const { return skip_reason_; }
  // Why the server did not start; empty when it serves.
  const std::string& start_error() const { return start_error_; }
  // Optional models whose fixture is missing, with the reason.
  const std::string& missing() const { return missing_; }

  ServerProcess& process() { return *process_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  SuiteServer() = default;

  std::string skip_reason_, start_error_, missing_;
  std::filesystem::path dir_;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace savant::testing

// In SetUp(): skips the test when the suite's fixtures are missing, fails it when its server is down.
#define SAVANT_SUITE_SERVER_OR_SKIP(server)                                    \
  do {                                                                         \
    if (!(server).skip_reason().empty()) GTEST_SKIP() << (server).skip_reason(); \
    ASSERT_TRUE((server).start_error().empty()) << (server).start_error();      \
  } while (0)
