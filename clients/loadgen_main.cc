// savant-loadgen: measures a running server under load. Closed loop (--concurrency 1,2,4,...:
// that many workers, each sending its next request when the last one answers) or open loop
// (--rate R[,R2...]: requests scheduled at fixed intervals whatever the answers do; latency is
// measured from the scheduled time, so a server that falls behind shows it instead of slowing
// the generator down). gRPC or REST, TensorFlow Serving or KServe v2 predict. Reports per step:
// throughput, p50/p90/p99/p99.9 latency (HDR-style histogram), errors by code; writes CSV, JSON and
// a latency-vs-throughput PNG through gnuplot.
//   savant-loadgen --server 127.0.0.1:8500 --model half_plus_two --concurrency 1,2,4 --duration 5
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/latency_histogram.h"
#include "clients/serving_client.h"

namespace savant::clients {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(usage: savant-loadgen --model NAME [flags]

load:
  --concurrency LIST      closed loop: a step per value, e.g. 1,2,4,8,16,32,64 (the default)
  --rate LIST             open loop instead: a step per target rate in requests/s, e.g. 100,500,1000
  --duration SECONDS      per step, default 10
  --max_inflight N        open loop: most requests outstanding at once (workers), default 64
target:
  --server HOST:PORT      default 127.0.0.1:8500 (gRPC) or 127.0.0.1:8501 (REST)
  --protocol grpc|rest    default grpc
  --api tfserving|kserve  default tfserving (KServe v2 infer)
  --model NAME [--version N | --label L] [--signature NAME]
  --inputs SPEC           as savant-cli / savant run; default: generated from the model's metadata
  --batch N               batch size of generated inputs (unknown first dimension), default 1
  --timeout SECONDS       per request, default 30
output:
  --csv PATH  --json PATH  --plot PATH.png (gnuplot; skipped with a warning when missing)
  --quiet                 no progress line on stderr
exit codes: 0 some requests succeeded; 1 none did; 2 usage; 3 unavailable; 4 model not found.
)";

struct Flags {
  Target target;
  ModelRef model;
  std::vector<int> concurrency = {1, 2, 4, 8, 16, 32, 64};
  std::vector<double> rates;
  double duration_s = 10;
  int max_inflight = 64;
  std::string inputs;
  int64_t batch = 1;
  std::string csv, json, plot;
  bool quiet = false;
};

struct StepResult {
  std::string mode;  // closed | open
  int concurrency = 0;
  double target_rate = 0;
  double elapsed_s = 0;
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;
  std::string first_error;
  LatencyHistogram latency;

  int64_t error_count() const {
    int64_t n = 0;
    for (const auto& [code, c] : errors) n += c;
    return n;
  }
  double throughput() const { return elapsed_s > 0 ? ok / elapsed_s : 0; }
};

// What one worker saw; merged into the step when the worker ends.
struct WorkerTally {
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;
  std::string first_error;
  LatencyHistogram latency;
};

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound: return 4;
    case absl::StatusCode::kUnavailable: case absl::StatusCode::kDeadlineExceeded: return 3;
    default: return 1;
  }
}

int Fail(int code, const std::string& message) {
  std::cerr << "savant-loadgen: " << message << "\n";
  return code;
}

std::string ParseFlags(int argc, char** argv, Flags* f) {
  std::string protocol = "grpc", api = "tfserving", server, version;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return "help";
    if (a == "--quiet") {
      f->quiet = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) return absl::StrCat("unexpected argument \"", a, "\"");
    std::string name, value;
    if (std::string error = NextFlag(argc, argv, &i, &name, &value); !error.empty()) return error;
    auto bad = [&](const std::string& what) { return absl::StrCat("--", name, " \"", value, "\": expected ", what); };
    if (name == "server") {
      server = value;
    } else if (name == "protocol") {
      protocol = value;
    } else if (name == "api") {
      api = value;
    } else if (name == "model") {
      f->model.name = value;
    } else if (name == "version") {
      version = value;
    } else if (name == "label") {
      f->model.label = value;
    } else if (name == "signature") {
      f->model.signature = value;
    } else if (name == "inputs") {
      f->inputs = value;
    } else if (name == "concurrency") {
      f->concurrency.clear();
      for (absl::string_view s : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        int c = 0;
        if (!absl::SimpleAtoi(s, &c) || c < 1 || c > 4096) return bad("a list of worker counts in 1..4096");
        f->concurrency.push_back(c);
      }
      if (f->concurrency.empty()) return bad("a list of worker counts");
    } else if (name == "rate") {
      for (absl::string_view s : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        double r = 0;
        if (!absl::SimpleAtod(s, &r) || r <= 0) return bad("a list of rates > 0 (requests/s)");
        f->rates.push_back(r);
      }
      if (f->rates.empty()) return bad("a list of rates");
    } else if (name == "duration") {
      if (!absl::SimpleAtod(value, &f->duration_s) || f->duration_s <= 0) return bad("seconds > 0");
    } else if (name == "max_inflight") {
      if (!absl::SimpleAtoi(value, &f->max_inflight) || f->max_inflight < 1) return bad("a count >= 1");
    } else if (name == "batch") {
      if (!absl::SimpleAtoi(value, &f->batch) || f->batch < 1) return bad("a count >= 1");
    } else if (name == "timeout") {
      double s = 0;
      if (!absl::SimpleAtod(value, &s) || s <= 0) return bad("seconds > 0");
      f->target.timeout = absl::Seconds(s);
    } else if (name == "csv") {
      f->csv = value;
    } else if (name == "json") {
      f->json = value;
    } else if (name == "plot") {
      f->plot = value;
    } else {
      return absl::StrCat("unknown flag --", name);
    }
  }
  if (f->model.name.empty()) return "--model is required";
  if (protocol != "grpc" && protocol != "rest") return absl::StrCat("--protocol \"", protocol, "\": expected grpc or rest");
  if (api != "tfserving" && api != "kserve") return absl::StrCat("--api \"", api, "\": expected tfserving or kserve");
  f->target.protocol = protocol == "grpc" ? Protocol::kGrpc : Protocol::kRest;
  f->target.api = api == "tfserving" ? Api::kTfServing : Api::kKServe;
  f->target.port = f->target.protocol == Protocol::kGrpc ? 8500 : 8501;
  if (!server.empty()) {
    auto colon = server.rfind(':');
    if (colon == std::string::npos || !absl::SimpleAtoi(server.substr(colon + 1), &f->target.port)) {
      return absl::StrCat("--server \"", server, "\": expected HOST:PORT");
    }
    f->target.host = server.substr(0, colon);
  }
  if (!version.empty()) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(version, &v) || v < 0) return absl::StrCat("--version \"", version, "\": expected a number");
    f->model.version = v;
  }
  if (f->model.version && !f->model.label.empty()) return "--version and --label are exclusive";
  if (f->target.api == Api::kKServe && !f->model.label.empty()) return "KServe v2 has no version labels";
  return "";
}

void Count(WorkerTally& t, const absl::Status& s, int64_t nanos) {
  if (s.ok()) {
    t.ok++;
    t.latency.Record(nanos);
    return;
  }
  t.errors[absl::StatusCodeToString(s.code())]++;
  if (t.first_error.empty()) t.first_error = absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message());
}

// Runs one step. `calls` holds one prepared call (connection) per worker.
StepResult RunStep(const Flags& f, std::vector<std::unique_ptr<PreparedCall>>& calls, const std::string& mode,
                   int concurrency, double rate, const std::string& label) {
  StepResult result;
  result.mode = mode;
  result.concurrency = concurrency;
  result.target_rate = rate;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(f.duration_s));
  std::atomic<int64_t> done_ok{0}, done_err{0}, next_slot{0};
  std::vector<WorkerTally> tallies(calls.size());
  std::vector<std::thread> workers;
  for (size_t w = 0; w < calls.size(); ++w) {
    workers.emplace_back([&, w] {
      WorkerTally& tally = tallies[w];
      PreparedCall& call = *calls[w];
      while (true) {
        Clock::time_point scheduled;
        if (mode == "open") {
          // The k-th request is due at start + k / rate; a late worker measures from that time.
          const int64_t k = next_slot.fetch_add(1);
          scheduled = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / rate));
          if (scheduled >= end) break;
          std::this_thread::sleep_until(scheduled);
        } else {
          scheduled = Clock::now();
          if (scheduled >= end) break;
        }
        absl::Status s = call.Send();
        Count(tally, s, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - scheduled).count());
        (s.ok() ? done_ok : done_err).fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Progress once a second until the workers finish (each completes its request in flight).
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    while (!finished.load()) {
      for (int i = 0; i < 10 && !finished.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (f.quiet || finished.load()) continue;
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      const int64_t ok = done_ok.load();
      std::fprintf(stderr, "\r%s  %5.1f/%.1fs  ok=%lld err=%lld  %.1f req/s   ", label.c_str(), std::min(t, f.duration_s),
                   f.duration_s, static_cast<long long>(ok), static_cast<long long>(done_err.load()), t > 0 ? ok / t : 0);
      std::fflush(stderr);
    }
  });
  for (auto& w : workers) w.join();
  finished = true;
  progress.join();
  if (!f.quiet) std::fprintf(stderr, "\r%*s\r", 100, "");
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : tallies) {
    result.ok += t.ok;
    for (const auto& [code, n] : t.errors) result.errors[code] += n;
    if (result.first_error.empty()) result.first_error = t.first_error;
    result.latency.Merge(t.latency);
  }
  return result;
}

double Ms(int64_t nanos) { return nanos / 1e6; }

std::string ErrorsText(const StepResult& r, const char* sep, const char* kv) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : r.errors) parts.push_back(absl::StrCat(code, kv, n));
  return absl::StrJoin(parts, sep);
}

std::string Fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string CsvText(const std::vector<StepResult>& steps) {
  std::string out =
      "mode,concurrency,target_rps,elapsed_s,ok,errors,throughput_rps,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,"
      "errors_by_code\n";
  for (const auto& r : steps) {
    const auto& h = r.latency;
    absl::StrAppend(&out, r.mode, ",", r.concurrency, ",", Fixed(r.target_rate, 1), ",", Fixed(r.elapsed_s), ",", r.ok,
                    ",", r.error_count(), ",", Fixed(r.throughput(), 1), ",", Fixed(h.mean() / 1e6), ",",
                    Fixed(Ms(h.ValueAtPercentile(50))), ",", Fixed(Ms(h.ValueAtPercentile(90))), ",",
                    Fixed(Ms(h.ValueAtPercentile(99))), ",", Fixed(Ms(h.ValueAtPercentile(99.9))), ",",
                    Fixed(Ms(h.max())), ",", ErrorsText(r, ";", "="), "\n");
  }
  return out;
}

std::string JsonText(const Flags& f, const std::vector<StepResult>& steps) {
  int64_t ok = 0, errors = 0;
  std::vector<std::string> items;
  for (const auto& r : steps) {
    ok += r.ok;
    errors += r.error_count();
    const auto& h = r.latency;
    std::vector<std::string> codes;
    for (const auto& [code, n] : r.errors) codes.push_back(absl::StrCat("\"", code, "\":", n));
    items.push_back(absl::StrCat(
        "{\"mode\":\"", r.mode, "\",\"concurrency\":", r.concurrency, ",\"target_rps\":", Fixed(r.target_rate, 1),
        ",\"elapsed_s\":", Fixed(r.elapsed_s), ",\"ok\":", r.ok, ",\"errors\":", r.error_count(),
        ",\"throughput_rps\":", Fixed(r.throughput(), 1), ",\"latency_ms\":{\"mean\":", Fixed(h.mean() / 1e6),
        ",\"min\":", Fixed(Ms(h.min())), ",\"p50\":", Fixed(Ms(h.ValueAtPercentile(50))),
        ",\"p90\":", Fixed(Ms(h.ValueAtPercentile(90))), ",\"p99\":", Fixed(Ms(h.ValueAtPercentile(99))),
        ",\"p999\":", Fixed(Ms(h.ValueAtPercentile(99.9))), ",\"max\":", Fixed(Ms(h.max())),
        "},\"errors_by_code\":{", absl::StrJoin(codes, ","), "}}"));
  }
  return absl::StrCat("{\"server\":\"", f.target.host, ":", f.target.port, "\",\"protocol\":\"",
                      f.target.protocol == Protocol::kGrpc ? "grpc" : "rest", "\",\"api\":\"",
                      f.target.api == Api::kKServe ? "kserve" : "tfserving", "\",\"model\":\"", f.model.name,
                      "\",\"duration_s\":", Fixed(f.duration_s), ",\"total_ok\":", ok, ",\"total_errors\":", errors,
                      ",\"steps\":[", absl::StrJoin(items, ","), "]}\n");
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Latency percentiles against throughput, one point per step, through gnuplot.
void Plot(const Flags& f, const std::vector<StepResult>& steps) {
  const std::string gnuplot = FindOnPath("gnuplot");
  if (gnuplot.empty()) {
    std::cerr << "savant-loadgen: warning: gnuplot not found; skipping --plot " << f.plot
              << " (Debian: apt-get install gnuplot-nox)\n";
    return;
  }
  const std::string data = f.plot + ".dat";
  std::string rows = "# throughput_rps p50_ms p90_ms p99_ms p999_ms\n";
  for (const auto& r : steps) {
    if (r.ok == 0) continue;
    absl::StrAppend(&rows, Fixed(r.throughput(), 1), " ", Fixed(Ms(r.latency.ValueAtPercentile(50))), " ",
                    Fixed(Ms(r.latency.ValueAtPercentile(90))), " ", Fixed(Ms(r.latency.ValueAtPercentile(99))), " ",
                    Fixed(Ms(r.latency.ValueAtPercentile(99.9))), "\n");
  }
  if (!WriteFile(data, rows)) {
    std::cerr << "savant-loadgen: warning: cannot write " << data << "; skipping the plot\n";
    return;
  }
  const std::string script = absl::StrCat(
      "set terminal pngcairo size 900,600 noenhanced\n", "set output '", f.plot, "'\n",
      "set title 'savant-loadgen: ", f.model.name, " (", f.target.protocol == Protocol::kGrpc ? "gRPC" : "REST", ", ",
      f.target.api == Api::kKServe ? "KServe v2" : "TF Serving", ")'\n",
      "set xlabel 'throughput (requests/s)'\nset ylabel 'latency (ms)'\nset logscale y\nset grid\nset key top left\n",
      "plot '", data, "' using 1:2 with linespoints title 'p50', '' using 1:3 with linespoints title 'p90', ",
      "'' using 1:4 with linespoints title 'p99', '' using 1:5 with linespoints title 'p99.9'\n");
  FILE* pipe = popen((gnuplot + " 2>&1").c_str(), "w");
  if (pipe == nullptr) {
    std::cerr << "savant-loadgen: warning: cannot run gnuplot; skipping the plot\n";
    return;
  }
  std::fwrite(script.data(), 1, script.size(), pipe);
  if (pclose(pipe) != 0) std::cerr << "savant-loadgen: warning: gnuplot failed; " << f.plot << " may be missing\n";
}

int Main(int argc, char** argv) {
  Flags f;
  const std::string error = ParseFlags(argc, argv, &f);
  if (error == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (!error.empty()) return Fail(2, absl::StrCat("usage: ", error, " (see savant-loadgen --help)"));
  auto client = ServingClient::Create(f.target);
  if (!client.ok()) return Fail(2, absl::StrCat("usage: ", client.status().message()));
  auto metadata = (*client)->Metadata(f.model);
  if (!metadata.ok()) {
    return Fail(ExitCodeFor(metadata.status().code()),
                absl::StrCat(absl::StatusCodeToString(metadata.status().code()), ": ", metadata.status().message()));
  }
  auto signature = FindSignature(*metadata, f.model.signature);
  if (!signature.ok()) return Fail(2, absl::StrCat("usage: ", signature.status().message()));
  absl::StatusOr<NamedTensors> inputs;
  if (f.inputs.empty()) {
    inputs = GenerateInputs(*signature, f.batch);
  } else {
    auto values = ParseInputsFlag(f.inputs);
    inputs = values.ok() ? BuildInputs(*values, *signature) : absl::StatusOr<NamedTensors>(values.status());
  }
  if (!inputs.ok()) return Fail(2, absl::StrCat("usage: ", inputs.status().message()));

  const bool open = !f.rates.empty();
  const size_t steps_total = open ? f.rates.size() : f.concurrency.size();
  std::vector<StepResult> steps;
  std::cout << "mode    workers  target_rps  ok        errors  throughput_rps  p50_ms   p90_ms   p99_ms   p99.9_ms\n";
  for (size_t i = 0; i < steps_total; ++i) {
    const int workers = open ? f.max_inflight : f.concurrency[i];
    std::vector<std::unique_ptr<PreparedCall>> calls;
    for (int w = 0; w < workers; ++w) {
      auto call = (*client)->PreparePredict(f.model, *inputs);
      if (!call.ok()) return Fail(2, absl::StrCat("usage: ", call.status().message()));
      // Connections open before the step's clock starts: their setup is not request latency.
      if (absl::Status s = (*call)->Connect(); !s.ok()) {
        return Fail(3, absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message()));
      }
      calls.push_back(*std::move(call));
    }
    const std::string label = open ? absl::StrCat("[step ", i + 1, "/", steps_total, "] rate=", f.rates[i], "/s")
                                   : absl::StrCat("[step ", i + 1, "/", steps_total, "] concurrency=", workers);
    StepResult r = RunStep(f, calls, open ? "open" : "closed", workers, open ? f.rates[i] : 0, label);
    const auto& h = r.latency;
    std::printf("%-7s %-8d %-11s %-9lld %-7lld %-15.1f %-8.3f %-8.3f %-8.3f %-8.3f%s%s\n", r.mode.c_str(), workers,
                open ? Fixed(r.target_rate, 1).c_str() : "-", static_cast<long long>(r.ok),
                static_cast<long long>(r.error_count()), r.throughput(), Ms(h.ValueAtPercentile(50)),
                Ms(h.ValueAtPercentile(90)), Ms(h.ValueAtPercentile(99)), Ms(h.ValueAtPercentile(99.9)),
                r.errors.empty() ? "" : "  errors: ", ErrorsText(r, " ", "=").c_str());
    std::fflush(stdout);
    if (!r.first_error.empty()) std::cerr << "savant-loadgen: first error: " << r.first_error << "\n";
    steps.push_back(std::move(r));
  }
  int64_t total_ok = 0;
  for (const auto& r : steps) total_ok += r.ok;
  if (!f.csv.empty() && !WriteFile(f.csv, CsvText(steps))) return Fail(1, absl::StrCat("cannot write ", f.csv));
  if (!f.json.empty() && !WriteFile(f.json, JsonText(f, steps))) return Fail(1, absl::StrCat("cannot write ", f.json));
  if (!f.plot.empty()) Plot(f, steps);
  if (total_ok == 0) return Fail(1, "no request succeeded");
  return 0;
}

}  // namespace
}  // namespace savant::clients

int main(int argc, char** argv) { return savant::clients::Main(argc, argv); }
