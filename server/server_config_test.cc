#include "server/server_config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/fixtures.h"

namespace savant::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ServerConfigTest, DefaultsAreTensorFlowServings) {
  auto options = ParseServerFlags({});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->grpc_port, 8500);
  EXPECT_EQ(options->rest_api_port, 8501);
  EXPECT_EQ(options->rest_api_timeout_in_ms, 30000);
  EXPECT_EQ(options->model_name, "default");
  EXPECT_EQ(options->file_system_poll_wait_seconds, 1);
  EXPECT_EQ(options->model_config_file_poll_wait_seconds, 0);
  EXPECT_EQ(options->max_num_load_retries, 5);
  EXPECT_EQ(options->load_retry_interval_micros, 60000000);
  EXPECT_EQ(options->num_load_threads, 0);
  EXPECT_TRUE(options->enable_model_warmup);
  EXPECT_FALSE(options->enable_batching);
  EXPECT_FALSE(options->enable_grpc_healthcheck_service);
  EXPECT_EQ(options->saved_model_tags, "serve");
  EXPECT_GT(options->grpc_max_threads, 0);
  EXPECT_TRUE(options->set_flags.empty());
}

TEST(ServerConfigTest, BothValueFormsAndBareBooleans) {
  auto options = ParseServerFlags({"--port=9000", "--model_name", "half_plus_two", "--enable_batching",
                                   "--enable_model_warmup=false", "-rest_api_port=0",
                                   "--load_retry_interval_micros", "1000", "--allow_version_labels_for_unavailable_models=1"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->grpc_port, 9000);
  EXPECT_EQ(options->model_name, "half_plus_two");
  EXPECT_TRUE(options->enable_batching);
  EXPECT_FALSE(options->enable_model_warmup);
  EXPECT_EQ(options->rest_api_port, 0);
  EXPECT_EQ(options->load_retry_interval_micros, 1000);
  EXPECT_TRUE(options->allow_version_labels_for_unavailable_models);
  EXPECT_TRUE(options->set_flags.contains("enable_batching"));
}

TEST(ServerConfigTest, BadFlagsNameTheFlag) {
  EXPECT_EQ(ParseServerFlags({"--nope=1"}).status(),
            absl::InvalidArgumentError("unknown flag \"--nope\" (see --help)"));
  EXPECT_EQ(ParseServerFlags({"--port=abc"}).status(),
            absl::InvalidArgumentError("flag --port: expected a 32-bit integer, got \"abc\""));
  EXPECT_EQ(ParseServerFlags({"--enable_batching=maybe"}).status(),
            absl::InvalidArgumentError("flag --enable_batching: expected true or false, got \"maybe\""));
  EXPECT_EQ(ParseServerFlags({"--model_name"}).status(),
            absl::InvalidArgumentError("flag --model_name needs a value"));
  EXPECT_EQ(ParseServerFlags({"model"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, AcceptsTensorFlowOnlyFlags) {
  auto options = ParseServerFlags({"--flush_filesystem_caches=false", "--per_process_gpu_memory_fraction=0.5",
                                   "--xla_cpu_compilation_enabled", "--tensorflow_session_config_file=/x"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(NotActedOnFlags(*options), ::testing::SizeIs(3));
}

TEST(ServerConfigTest, WarnsOncePerFlagNotActedOn) {
  auto options = ParseServerFlags({"--enable_batching", "--batching_parameters_file=/b", "--port=1"});
  ASSERT_TRUE(options.ok());
  EXPECT_THAT(NotActedOnFlags(*options),
              ElementsAre("--enable_batching: accepted but not acted on yet: request batching is not implemented yet",
                          "--batching_parameters_file: accepted but not acted on yet: request batching is not "
                          "implemented yet"));
  // Setting a flag to its default is not worth a warning.
  EXPECT_TRUE(NotActedOnFlags(*ParseServerFlags({"--enable_batching=false"})).empty());
}

TEST(ServerConfigTest, UsageListsEveryFlag) {
  std::string usage = ServerFlagsUsage();
  for (const char* flag :
       {"--port=8500", "--grpc_socket_path", "--rest_api_port=8501", "--rest_api_num_threads", "--rest_api_timeout_in_ms",
        "--model_name=\"default\"", "--model_base_path", "--model_config_file", "--model_config_file_poll_wait_seconds",
        "--file_system_poll_wait_seconds=1", "--num_load_threads", "--num_unload_threads", "--max_num_load_retries=5",
        "--load_retry_interval_micros", "--saved_model_tags", "--tensorflow_intra_op_parallelism",
        "--tensorflow_inter_op_parallelism", "--enable_batching", "--batching_parameters_file", "--monitoring_config_file",
        "--ssl_config_file", "--grpc_channel_arguments", "--grpc_max_threads", "--enable_model_warmup",
        "--num_request_iterations_for_warmup", "--allow_version_labels_for_unavailable_models",
        "--enable_grpc_healthcheck_service", "--version", "--port_file", "--help"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

TEST(ServerConfigTest, GrpcChannelArguments) {
  auto args = ParseGrpcChannelArguments("grpc.max_connection_age_ms=2000, grpc.primary_user_agent=x=y");
  ASSERT_TRUE(args.ok());
  EXPECT_THAT(*args, ElementsAre(Pair("grpc.max_connection_age_ms", "2000"), Pair("grpc.primary_user_agent", "x=y")));
  EXPECT_TRUE(ParseGrpcChannelArguments("")->empty());
  EXPECT_EQ(ParseGrpcChannelArguments("novalue").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, SavedModelTags) {
  EXPECT_THAT(ParseSavedModelTags("serve, gpu"), ElementsAre("gpu", "serve"));
  EXPECT_THAT(ParseSavedModelTags(""), ElementsAre("serve"));
}

TEST(ServerConfigTest, SingleModelConfigFromFlags) {
  auto options = ParseServerFlags({"--model_name=m", "--model_base_path=/models/m/"});
  auto config = InitialModelServerConfig(*options);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->model_config_list().config_size(), 1);
  EXPECT_EQ(config->model_config_list().config(0).name(), "m");
  EXPECT_EQ(config->model_config_list().config(0).base_path(), "/models/m/");
  EXPECT_EQ(config->model_config_list().config(0).model_platform(), "tensorflow");

  EXPECT_EQ(InitialModelServerConfig(ServerOptions()).status(),
            absl::InvalidArgumentError("Both server_options.model_base_path and server_options.model_config_file are empty!"));
}

TEST(ServerConfigTest, ReadsTensorFlowServingsConfigFiles) {
  SAVANT_FIXTURE_OR_SKIP(good, "tfserving/good_model_config.txt");
  ServerOptions options;
  options.model_config_file = good.string();
  auto config = InitialModelServerConfig(options);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->model_config_list().config_size(), 2);
  EXPECT_EQ(config->model_config_list().config(0).name(), "half_plus_two");
  EXPECT_EQ(config->model_config_list().config(1).base_path(), "${TEST_HALF_PLUS_THREE_DIR}");

  SAVANT_FIXTURE_OR_SKIP(bad, "tfserving/bad_model_config.txt");
  options.model_config_file = bad.string();
  auto status = InitialModelServerConfig(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("Invalid protobuf file: '" + bad.string() + "': line 1 column"));

  options.model_config_file = "/nonexistent/config.txt";
  EXPECT_EQ(InitialModelServerConfig(options).status().code(), absl::StatusCode::kNotFound);
}

// TensorFlow Serving's own test file (tensorflow_serving/servables/tensorflow/testdata).
TEST(ServerConfigTest, ReadsMonitoringConfig) {
  SAVANT_FIXTURE_OR_SKIP(monitoring, "tfserving/monitoring_config.txt");
  auto options = ParseServerFlags({"--monitoring_config_file=" + monitoring.string()});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->prometheus_enabled);
  EXPECT_EQ(options->prometheus_path, "/monitoring/prometheus/metrics");
  // Acted on: the REST front end serves the page, so there is no start-up warning.
  EXPECT_TRUE(NotActedOnFlags(*options).empty());

  // No path: TensorFlow Serving's default. Disabled: nothing is served.
  const fs::path dir = testing::MakeTempDir("monitoring_config");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  ServerOptions defaults;
  defaults.monitoring_config_file = write("default.txt", "prometheus_config { enable: true }");
  ASSERT_TRUE(ReadMonitoringConfig(defaults).ok());
  EXPECT_TRUE(defaults.prometheus_enabled);
  EXPECT_EQ(defaults.prometheus_path, "/monitoring/prometheus/metrics");

  ServerOptions custom;
  custom.monitoring_config_file = write("custom.txt", R"pb(prometheus_config { enable: true path: "/m" })pb");
  ASSERT_TRUE(ReadMonitoringConfig(custom).ok());
  EXPECT_EQ(custom.prometheus_path, "/m");

  ServerOptions off;
  off.monitoring_config_file = write("off.txt", "prometheus_config { enable: false }");
  ASSERT_TRUE(ReadMonitoringConfig(off).ok());
  EXPECT_FALSE(off.prometheus_enabled);

  ServerOptions relative;
  relative.monitoring_config_file = write("relative.txt", R"pb(prometheus_config { enable: true path: "m" })pb");
  EXPECT_EQ(ReadMonitoringConfig(relative).code(), absl::StatusCode::kInvalidArgument);

  const std::string bad = write("bad.txt", "prometheus_config { enabled: true }");
  auto status = ParseServerFlags({"--monitoring_config_file", bad}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("Invalid protobuf file: '" + bad + "'"));
  EXPECT_EQ(ParseServerFlags({"--monitoring_config_file=/nonexistent/m.txt"}).status().code(),
            absl::StatusCode::kNotFound);
  // Without the flag nothing is enabled.
  EXPECT_FALSE(ParseServerFlags({})->prometheus_enabled);
}

TEST(ServerConfigTest, VersionPoliciesAndLabelsParse) {
  auto config = ParseModelServerConfig(R"pb(
    model_config_list {
      config {
        name: "m"
        base_path: "/m"
        model_platform: "tensorflow"
        model_version_policy { specific { versions: 123 versions: 124 } }
        version_labels { key: "stable" value: 123 }
        version_labels { key: "canary" value: 124 }
      }
    })pb", "inline");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& m = config->model_config_list().config(0);
  EXPECT_THAT(m.model_version_policy().specific().versions(), ElementsAre(123, 124));
  EXPECT_EQ(m.version_labels().at("canary"), 124);
}

}  // namespace
}  // namespace savant::server
