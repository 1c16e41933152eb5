// gRPC Predict throughput and latency of the real server (savant::server::Server, in process) next
// to a bare asynchronous gRPC server that answers every Predict with a fixed PredictResponse, both
// driven by the same asynchronous client in the same run. The ratio savant/bare is the cost of
// everything Savant adds per request (lookup, signature, tensor conversion, running half_plus_two);
// the goal is >= 0.8 at every concurrency.
//
//   grpc_bench [--seconds=1] [--concurrency=1,8,64] [--rounds=7]
//
// Each point runs `rounds` pairs of back-to-back bare and savant rounds (which of the two goes
// first alternates), and the ratio it reports is the median over pairs of savant/bare within a
// pair: load from other processes on a shared machine changes slowly compared with one round, so
// it falls on both halves of a pair alike instead of on whichever side ran during a busy spell.
// The req/s and latency columns are the rounds with the median throughput of each side.
//
// Uses TensorFlow Serving's saved_model_half_plus_two_cpu fixture when present, otherwise the
// project's own tests/testdata/half_plus_two.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"
#include "grpcpp/grpcpp.h"
#include "server/metrics.h"
#include "server/server.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tests/util/fixtures.h"

namespace savant {
namespace {

namespace tfs = tensorflow::serving;

int Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

tensorflow::TensorProto Column(const std::vector<float>& values) {
  tensorflow::TensorProto t;
  t.set_dtype(tensorflow::DT_FLOAT);
  t.mutable_tensor_shape()->add_dim()->set_size(static_cast<int64_t>(values.size()));
  t.mutable_tensor_shape()->add_dim()->set_size(1);
  for (float v : values) t.add_float_val(v);
  return t;
}

// The bare server: PredictionService/Predict only, one completion queue and polling thread per
// core (as Savant's front end), every call answered with the same response.
class BareServer {
 public:
  BareServer() {
    response_.mutable_model_spec()->set_name("half_plus_two");
    response_.mutable_model_spec()->mutable_version()->set_value(123);
    response_.mutable_model_spec()->set_signature_name("serving_default");
    (*response_.mutable_outputs())["y"] = Column({2.5f, 3.0f, 4.5f});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    for (int i = 0; i < Cores(); ++i) cqs_.push_back(builder.AddCompletionQueue());
    server_ = builder.BuildAndStart();
    for (auto& cq : cqs_) {
      for (int i = 0; i < 2; ++i) new Call(this, cq.get());
      threads_.emplace_back([q = cq.get()] {
        void* tag;
        bool ok;
        while (q->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
      });
    }
  }
  ~BareServer() {
    shutting_down_ = true;
    server_->Shutdown();
    for (auto& cq : cqs_) cq->Shutdown();
    for (auto& t : threads_) t.join();
  }
  int port() const { return port_; }

 private:
  struct Call {
    Call(BareServer* s, grpc::ServerCompletionQueue* q) : server(s), cq(q), responder(&context) {
      server->service_.RequestPredict(&context, &request, &responder, cq, cq, this);
    }
    void Proceed(bool ok) {
      if (finished || !ok) {
        delete this;
        return;
      }
      finished = true;
      if (!server->shutting_down_) new Call(server, cq);
      responder.Finish(server->response_, grpc::Status::OK, this);
    }
    BareServer* server;
    grpc::ServerCompletionQueue* cq;
    grpc::ServerContext context;
    tfs::PredictRequest request;
    grpc::ServerAsyncResponseWriter<tfs::PredictResponse> responder;
    bool finished = false;
  };

  tfs::PredictionService::AsyncService service_;
  tfs::PredictResponse response_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::thread> threads_;
  std::atomic<bool> shutting_down_{false};
  int port_ = 0;
};

struct LoadResult {
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t errors = 0;
};

// Keeps `concurrency` Predict calls in flight against `address` for warmup + measure, counting
// only calls that start inside the measuring window.
LoadResult RunLoad(const std::string& address, const tfs::PredictRequest& request, int concurrency,
                   absl::Duration warmup, absl::Duration measure) {
  const int threads = concurrency > 1 ? 2 : 1;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < threads; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct connections per client thread
    channels.push_back(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  const absl::Time start = absl::Now() + absl::Milliseconds(50);
  const absl::Time measure_from = start + warmup;
  const absl::Time end = measure_from + measure;
  std::vector<std::vector<int64_t>> latencies(threads);
  std::atomic<int64_t> errors{0};

  struct Call {
    grpc::ClientContext context;
    tfs::PredictResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<tfs::PredictResponse>> reader;
    absl::Time started;
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    const int in_flight = concurrency / threads + (t < concurrency % threads ? 1 : 0);
    workers.emplace_back([&, t, in_flight] {
      auto stub = tfs::PredictionService::NewStub(channels[t]);
      grpc::CompletionQueue cq;
      auto issue = [&] {
        auto* call = new Call;
        call->started = absl::Now();
        call->reader = stub->PrepareAsyncPredict(&call->context, request, &cq);
        call->reader->StartCall();
        call->reader->Finish(&call->response, &call->status, call);
      };
      absl::SleepFor(start - absl::Now());
      for (int i = 0; i < in_flight; ++i) issue();
      int outstanding = in_flight;
      void* tag;
      bool ok;
      while (outstanding > 0 && cq.Next(&tag, &ok)) {
        std::unique_ptr<Call> call(static_cast<Call*>(tag));
        const absl::Time now = absl::Now();
        --outstanding;
        if (!ok || !call->status.ok()) errors++;
        if (call->started >= measure_from && now <= end) {
          latencies[t].push_back(absl::ToInt64Microseconds(now - call->started));
        }
        if (now < end) {
          issue();
          ++outstanding;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  std::vector<int64_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  LoadResult result;
  result.errors = errors;
  if (all.empty()) return result;
  std::sort(all.begin(), all.end());
  result.qps = static_cast<double>(all.size()) / absl::ToDoubleSeconds(measure);
  result.p50_us = static_cast<double>(all[all.size() / 2]);
  result.p99_us = static_cast<double>(all[std::min(all.size() - 1, all.size() * 99 / 100)]);
  return result;
}

// The round with the median throughput (errors summed over every round).
LoadResult Median(std::vector<LoadResult> results) {
  int64_t errors = 0;
  for (const LoadResult& r : results) errors += r.errors;
  std::sort(results.begin(), results.end(), [](const LoadResult& a, const LoadResult& b) { return a.qps < b.qps; });
  LoadResult median = results[results.size() / 2];
  median.errors = errors;
  return median;
}

int Main(int argc, char** argv) {
  double seconds = 1.0;
  std::vector<int> concurrencies = {1, 8, 64};
  int rounds = 7;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg, &seconds)) return 2;
    } else if (absl::ConsumePrefix(&arg, "--concurrency=")) {
      concurrencies.clear();
      for (absl::string_view c : absl::StrSplit(arg, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(c, &n) || n < 1) return 2;
        concurrencies.push_back(n);
      }
    } else if (absl::ConsumePrefix(&arg, "--rounds=")) {
      if (!absl::SimpleAtoi(arg, &rounds) || rounds < 1) return 2;
    } else {
      std::fprintf(stderr, "usage: grpc_bench [--seconds=1] [--concurrency=1,8,64] [--rounds=7]\n");
      return 2;
    }
  }
  SetMinLogLevel(LogLevel::kWarning);

  std::filesystem::path base = testing::TestDataDir() / "half_plus_two";
  if (auto fixture = testing::FixturePath("tfserving/saved_model_half_plus_two_cpu"); fixture.ok()) base = *fixture;
  server::ServerOptions options;
  options.grpc_port = 0;
  options.rest_api_port = 0;
  options.model_name = "half_plus_two";
  options.model_base_path = base.string();
  options.file_system_poll_wait_seconds = 0;
  server::Server savant(options);
  if (absl::Status s = savant.Start(); !s.ok()) {
    std::fprintf(stderr, "savant did not start: %s\n", s.ToString().c_str());
    return 1;
  }
  BareServer bare;

  tfs::PredictRequest request;
  request.mutable_model_spec()->set_name("half_plus_two");
  (*request.mutable_inputs())["x"] = Column({1.0f, 2.0f, 5.0f});

  std::printf("gRPC Predict, half_plus_two x=[[1],[2],[5]], %d cores, %d pairs of back-to-back rounds of %.1f s, "
              "model %s\n",
              Cores(), rounds, seconds, base.string().c_str());
  std::printf("%-12s %-8s %12s %10s %10s %8s\n", "concurrency", "server", "req/s", "p50_us", "p99_us", "errors");
  const absl::Duration measure = absl::Seconds(seconds);
  const absl::Duration warmup = absl::Milliseconds(200);
  std::vector<double> ratios;
  for (int c : concurrencies) {
    std::vector<LoadResult> bare_rounds, savant_rounds;
    std::vector<double> pair_ratios;
    const std::string bare_address = "127.0.0.1:" + std::to_string(bare.port());
    const std::string savant_address = "127.0.0.1:" + std::to_string(savant.grpc_port());
    for (int r = 0; r < rounds; ++r) {
      if (r % 2 == 0) {
        bare_rounds.push_back(RunLoad(bare_address, request, c, warmup, measure));
        savant_rounds.push_back(RunLoad(savant_address, request, c, warmup, measure));
      } else {
        savant_rounds.push_back(RunLoad(savant_address, request, c, warmup, measure));
        bare_rounds.push_back(RunLoad(bare_address, request, c, warmup, measure));
      }
      if (bare_rounds.back().qps > 0) pair_ratios.push_back(savant_rounds.back().qps / bare_rounds.back().qps);
    }
    std::sort(pair_ratios.begin(), pair_ratios.end());
    const LoadResult b = Median(bare_rounds);
    const LoadResult s = Median(savant_rounds);
    std::printf("%-12d %-8s %12.0f %10.0f %10.0f %8lld\n", c, "bare", b.qps, b.p50_us, b.p99_us,
                static_cast<long long>(b.errors));
    std::printf("%-12d %-8s %12.0f %10.0f %10.0f %8lld\n", c, "savant", s.qps, s.p50_us, s.p99_us,
                static_cast<long long>(s.errors));
    ratios.push_back(pair_ratios.empty() ? 0 : pair_ratios[pair_ratios.size() / 2]);
  }
  std::printf("\nthroughput ratio savant/bare, median over pairs (goal >= 0.80):");
  for (size_t i = 0; i < concurrencies.size(); ++i) std::printf("  c=%d: %.2f", concurrencies[i], ratios[i]);
  std::printf("\n");
  // Savant's own share: the handler time (lookup, tensor conversion, run, encode) that its
  // savant_request_duration_seconds histogram recorded for every Predict above.
  double handler_sum = 0, handler_count = 0;
  for (absl::string_view line : absl::StrSplit(server::Metrics::Global().RenderPrometheusText(), '\n')) {
    if (!absl::StrContains(line, "api=\"predict\"")) continue;
    double value = 0;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    if (absl::StartsWith(line, "savant_request_duration_seconds_sum")) handler_sum += value;
    if (absl::StartsWith(line, "savant_request_duration_seconds_count")) handler_count += value;
  }
  if (handler_count > 0) {
    std::printf("savant handler time (savant_request_duration_seconds): mean %.1f us over %.0f calls\n",
                1e6 * handler_sum / handler_count, handler_count);
  }
  savant.Shutdown();
  return 0;
}

}  // namespace
}  // namespace savant

int main(int argc, char** argv) { return savant::Main(argc, argv); }
