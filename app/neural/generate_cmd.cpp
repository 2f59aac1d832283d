// `arioso generate [RUN]`: composes pieces from a run (the newest when none is named).
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
int cmd_generate(int argc, char** argv) {
  CLI::App app{"arioso generate [RUN_DIR] [-o DIR]"};
  GenCli o;
  app.add_option("run", o.run, "run folder from 'arioso train' (default: the newest under runs/, else the demo's)");
  app.add_option("-o,--output", o.out_dir, "output folder")->capture_default_str();
  app.add_option("--name", o.name, "file name stem")->capture_default_str();
  add_generate_options(&app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.run.empty()) {
    o.run = latest_run();
    if (o.run.empty()) {
      fmt::print(stderr, "arioso generate: give a run folder (from 'arioso train'); none found under runs/ or arioso-demo/\n");
      return 2;
    }
    fmt::print("run: {}\n", o.run);
  }
  run_generate(o, false);
  return 0;
}

}  // namespace arioso::neural_app
