// The `arioso` command line. Commands that need no model (info, tokens, prepare, analyze, ...)
// run here without loading libtorch; the model commands (train, generate, evaluate, demo) live
// in libarioso_neural.so, opened only when one of them runs (linking libtorch costs ~0.5 s).
#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/commands.h"
#include "core/blas.h"
#include "core/error.h"

namespace {

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

/// Loads the model commands and runs one; argv is passed through whole.
int run_neural(int argc, char** argv) {
  arioso::configure_openblas();  // before libtorch, and so OpenBLAS, is loaded
  std::string dir = exe_dir();
  std::string candidates[] = {dir + "/libarioso_neural.so", dir + "/../lib/arioso/libarioso_neural.so"};
  void* handle = nullptr;
  std::string errors;
  for (const auto& c : candidates) {
    handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) break;
    errors += fmt::format("\n  {}", dlerror());
  }
  if (!handle) {
    fmt::print(stderr, "arioso: the model commands are not available (libarioso_neural.so not loaded):{}\n"
                       "  build with -DARIOSO_WITH_TORCH=ON (make build) to use train, generate, evaluate and demo\n",
               errors);
    return 1;
  }
  using MainFn = int (*)(int, char**);
  auto fn = reinterpret_cast<MainFn>(dlsym(handle, "arioso_neural_main"));
  if (!fn) {
    fmt::print(stderr, "arioso: libarioso_neural.so has no arioso_neural_main\n");
    return 1;
  }
  return fn(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arioso: learns the patterns of music from a folder of MIDI files and composes new pieces"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "arioso 0.1.0");
  std::vector<std::pair<CLI::App*, arioso::app::Runner>> runners;
  auto add = [&](arioso::app::Runner (*fn)(CLI::App&)) {
    auto r = fn(app);
    runners.emplace_back(app.get_subcommands({}).back(), std::move(r));
  };
  add(arioso::app::add_info);
  add(arioso::app::add_tokens);
  add(arioso::app::add_detokenize);
  add(arioso::app::add_prepare);
  add(arioso::app::add_analyze);
  // Model commands: options are parsed by the module (their --help too).
  const char* neural[][2] = {
      {"train", "Train an LSTM or Transformer on a corpus or on MIDI files and folders (arioso train CORPUS|MIDI... -o RUN)"},
      {"generate", "Compose new pieces with a trained run: MIDI, WAV and piano-roll PNG"},
      {"evaluate", "Held-out likelihood of MIDI files or a corpus under a trained run"},
      {"infill", "Compose chosen bars of your MIDI file anew, with the music around them as context"},
      {"accompany", "Add parts (bass, piano, drums...) to your MIDI file; its own notes stay as they are"},
      {"demo", "Learn the default corpus and compose three pieces, in one command"},
      {"serve", "The studio: a web page to compose, listen, look and compare"},
  };
  for (auto& n : neural) {
    auto* sub = app.add_subcommand(n[0], n[1]);
    sub->allow_extras();
    sub->prefix_command();
    sub->set_help_flag();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& n : neural) {
    if (app.got_subcommand(n[0])) return run_neural(argc, argv);
  }
  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const arioso::ConfigError& e) {
    fmt::print(stderr, "arioso: {}\n", e.what());
    return 2;
  } catch (const arioso::Error& e) {
    fmt::print(stderr, "arioso: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // a library's own exception (filesystem, json, ...)
    fmt::print(stderr, "arioso: {}\n", e.what());
    return 1;
  } catch (...) {
    fmt::print(stderr, "arioso: an unexpected error (not a standard exception)\n");
    return 1;
  }
  return 2;
}
