// `savant [flags]`: the model server, started the way tensorflow_model_server is.
//
// Signals are handled synchronously: SIGTERM, SIGINT and SIGHUP are blocked in every thread (the
// mask is set before any thread starts, so all threads inherit it) and one thread takes them with
// sigwait(). SIGTERM/SIGINT stop accepting, let in-flight requests finish and exit 0; SIGHUP
// re-reads --model_config_file.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "engine/base/logging.h"
#include "server/http/rest_front_end.h"
#include "server/server.h"
#include "server/server_config.h"
#include "server/tools.h"

namespace savant::server {
namespace {

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Takes signals until a stop signal arrives (or `server` stopped on its own, which the main thread
// reports by raising SIGTERM at this thread's process).
void SignalLoop(Server& server) {
  const sigset_t set = HandledSignals();
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      SAVANT_LOG(INFO) << "signal=SIGHUP state=reloading_config";
      absl::Status status = server.ReloadConfigFile();
      if (!status.ok()) SAVANT_LOG(ERROR) << "config state=reload_failed error=\"" << status.message() << "\"";
      continue;
    }
    SAVANT_LOG(INFO) << "signal=" << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " state=stopping";
    server.Shutdown();
    return;
  }
}

}  // namespace

int ServeMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = ParseServerFlags(args);
  if (!options.ok()) {
    std::cerr << "savant: " << options.status().message() << "\n";
    return 2;
  }
  if (options->help) {
    std::cout << ServerFlagsUsage();
    return 0;
  }
  if (options->version) {
    std::cout << "savant " << kSavantVersion << "\n";
    return 0;
  }

  const sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Server server(*std::move(options));
  server.SetRestFrontEndFactory(MakeRestFrontEnd);
  std::thread signals([&server] { SignalLoop(server); });
  absl::Status status = server.Start();
  if (!status.ok()) {
    std::cerr << "Failed to start server. Error: " << status << "\n";
    SAVANT_LOG(ERROR) << "state=failed_to_start error=\"" << status.message() << "\"";
    server.Shutdown();
    // Wake the signal thread so it can be joined.
    kill(getpid(), SIGTERM);
    signals.join();
    return 1;
  }
  server.Wait();
  signals.join();
  return 0;
}

}  // namespace savant::server
