// `arioso serve [RUN...]`: the studio (src/serve), until Ctrl-C.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "app/neural/neural.h"
#include "app/progress_bar.h"
#include "core/error.h"
#include "core/files.h"
#include "data/prepare.h"
#include "eval/analyze.h"
#include "eval/likelihood.h"
#include "midi/midi_file.h"
#include "model/checkpoint.h"
#include "render/chart.h"
#include "render/render.h"
#include "serve/server.h"

namespace fs = std::filesystem;

namespace arioso::neural_app {
serve::Server* g_server = nullptr;
void on_serve_signal(int) {
  if (g_server) g_server->stop();
}

int cmd_serve(int argc, char** argv) {
  CLI::App app{"arioso serve [RUN_DIR...]: the studio, a web page to compose, listen, look and compare"};
  serve::ServeOptions o;
  bool quiet = false;
  double max_storage_mb = static_cast<double>(o.max_storage_bytes) / 1e6, max_upload_kb = static_cast<double>(o.max_upload_bytes) / 1e3;
  app.add_option("runs", o.runs, "run folders from 'arioso train' (default: arioso-demo/run, the demo's)");
  app.add_option("--host", o.host, "address to listen on (loopback unless told otherwise)")->capture_default_str();
  app.add_option("--allow-host", o.allowed_hosts, "a Host name the studio may be reached by besides loopback and --host (repeatable)");
  app.add_option("--port", o.port, "port (0 = any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--data", o.data_dir, "folder for the pieces (default: a new folder under /tmp)");
  app.add_option("--queue", o.queue_capacity, "compose requests that may wait; more are answered 503")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--max-storage-mb", max_storage_mb, "the pieces' folder is kept under this size, oldest removed first")->capture_default_str();
  app.add_option("--max-upload-kb", max_upload_kb, "largest primer MIDI accepted")->capture_default_str();
  app.add_option("--soundfont", o.soundfont, "General MIDI soundfont (default: the one Debian installs)");
  app.add_option("--threads", o.threads, "cores for composing (0 = all)")->capture_default_str();
  app.add_flag("--quiet", quiet, "do not print a line per request");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.runs.empty()) {
    if (!fs::exists("arioso-demo/run/config.json")) {
      fmt::print(stderr, "arioso serve: give a run folder (from 'arioso train'), or run 'arioso demo' first\n");
      return 2;
    }
    o.runs.push_back("arioso-demo/run");
  }
  o.max_storage_bytes = static_cast<std::uint64_t>(max_storage_mb * 1e6);
  o.max_upload_bytes = static_cast<std::size_t>(max_upload_kb * 1e3);
  serve::Server server(o);
  int port = server.bind();
  if (!quiet) server.set_log([](const std::string& line) { fmt::print("{}\n", line); std::fflush(stdout); });
  fmt::print("arioso studio: http://{}:{}/  ({} run{}; pieces in {}; Ctrl-C stops)\n", o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host, port,
             o.runs.size(), o.runs.size() == 1 ? "" : "s", server.data_dir());
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1") {
    fmt::print("  note: listening on {}, not loopback: anyone who can reach this machine can compose and download pieces\n", o.host);
  }
  std::fflush(stdout);
  g_server = &server;
  signal(SIGINT, on_serve_signal);
  signal(SIGTERM, on_serve_signal);
  server.listen();
  g_server = nullptr;
  fmt::print("arioso serve: stopped\n");
  return 0;
}

}  // namespace arioso::neural_app
