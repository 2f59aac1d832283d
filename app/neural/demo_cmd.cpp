// `arioso demo`: prepares the default corpus, trains within a budget, composes and analyses three pieces.
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
#include "data/run_folder.h"
#include "eval/analyze.h"
#include "eval/likelihood.h"
#include "midi/midi_file.h"
#include "model/checkpoint.h"
#include "render/chart.h"
#include "render/render.h"
#include "serve/server.h"

namespace fs = std::filesystem;

namespace arioso::neural_app {
int cmd_demo(int argc, char** argv) {
  CLI::App app{"arioso demo: learn the default corpus, compose three pieces"};
  std::vector<std::string> midi_dirs = {"/usr/share/games/simutrans/music", "/usr/share/games/openttd/baseset/openmsx"};
  std::string given, out_dir = "arioso-demo", preset = "auto", arch = "lstm";
  double minutes = 15;
  int pieces = 3;
  double seconds = 60;
  std::uint64_t seed = 1;
  app.add_option("--midi", given, "learn from this folder instead of the default corpus");
  app.add_option("--minutes", minutes, "training budget in minutes")->capture_default_str();
  app.add_option("-o,--output", out_dir, "output folder")->capture_default_str();
  app.add_option("--pieces", pieces)->capture_default_str();
  app.add_option("--seconds", seconds, "length of each piece")->capture_default_str();
  app.add_option("--model", arch)->capture_default_str();
  app.add_option("--preset", preset)->capture_default_str();
  app.add_option("--seed", seed, "seed of training and sampling")->capture_default_str();
  int demo_ranks = 0;
  app.add_option("--ranks", demo_ranks, "local training processes (0 = 2 for an LSTM on 2+ cores, else 1)")->capture_default_str()->check(CLI::Range(0, 64));
  std::string demo_key;
  double key_strength = -1;
  app.add_option("--key", demo_key, "compose in this key (default: the model chooses, as it learned from the corpus)");
  app.add_option("--key-strength", key_strength, "with --key: also mask pitches (0 = strictly, S > 0 softly; default none)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!given.empty()) midi_dirs = {given};
  for (const auto& d : midi_dirs) {
    if (!fs::exists(d)) throw Error(fmt::format("{}: not found (install simutrans-data and openttd-openmsx: scripts/install-deps, or give --midi DIR)", d));
  }
  fs::create_directories(out_dir);
  std::string corpus = out_dir + "/corpus.arioso", run = out_dir + "/run";
  app::ProgressBar bar;
  if (!fs::exists(corpus)) {
    fmt::print("1/4 preparing the corpus from {}\n", fmt::join(midi_dirs, ", "));
    data::PrepareOptions po;
    po.tokenizer = music::tokenizer_named("remi");
    auto r = data::prepare_corpus(midi_dirs, po, [&](const Progress& p) { bar(p); });
    data::write_corpus(corpus, r.corpus);
    fmt::print("    {} pieces, {:.0f} minutes of music, {} skipped\n", r.corpus.pieces.size(), r.minutes, r.skipped.size());
  } else {
    fmt::print("1/4 corpus: reusing {}\n", corpus);
  }
  if (!fs::exists(run + "/best.pt")) {
    fmt::print("2/4 training {} {} for at most {} minutes (Ctrl-C stops and keeps what it learned)\n", arch, preset, minutes);
    train::TrainOptions to;
    to.corpus = corpus;
    to.run_dir = run;
    to.arch = arch;
    to.preset = preset;
    to.batch_size = train::default_batch_size(arch);
    to.time_limit_min = minutes;
    to.epochs = 0;  // as many as the budget allows
    to.patience = 4;
    to.seed = seed;
    to.resume = fs::exists(run + "/last.pt");
    signal(SIGINT, on_sigint);
    // Local ranks (see `train --ranks`): on two cores the LSTM learns ~1.9x more per minute as
    // two processes than as one with two BLAS threads (bench/RESULTS.md).
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int ranks = demo_ranks > 0 ? demo_ranks : (arch == "lstm" && cores >= 2 ? 2 : 1);
    LocalRanks local;
    if (ranks > 1 && to.batch_size % ranks == 0) {
      std::vector<std::string> args;
      if (to.resume) args = {"--resume", run};
      else args = {corpus, "-o", run, "--model", arch, "--preset", preset};
      for (const std::string& a : std::vector<std::string>{"--time-limit", fmt::format("{}", minutes), "--patience", "4",
                                                            "--seed", std::to_string(seed)}) {
        args.push_back(a);
      }
      local = start_local_ranks(args, ranks, to);
      fmt::print("    on {} local ranks\n", ranks);
    }
    try {
      auto r = train::train(to, g_stop, [&](const Progress& p) { bar(p); }, [&](const train::EpochReport& e) {
        print_epoch(e);
        draw_run(run);
      });
      fmt::print("    model: {}\n", r.model_choice);
      index_run(run);
    } catch (...) {
      local.stop();
      throw;
    }
    if (!local.wait()) throw Error("a local training rank failed (its error is above)");
  } else {
    fmt::print("2/4 model: reusing {}\n", run);
  }
  fmt::print("3/4 composing {} pieces of about {:.0f} s\n", pieces, seconds);
  GenCli gc;
  gc.run = run;
  gc.out_dir = out_dir;
  gc.name = "piece";
  gc.wav = gc.png = true;
  gc.g.num = pieces;
  gc.g.seconds = seconds;
  gc.g.seed = seed;
  gc.g.max_copy = 12;  // the demo's promise: no verbatim quote longer than 12 onsets
  // No key and no mask by default: the model's Key tokens carry the key it learned (docs/demo.md).
  gc.key = demo_key;
  gc.g.key_strength = key_strength;
  // Sampling: generate's defaults (GenerateOptions, chosen by measurement: docs/demo.md).
  fmt::print("    {}, temperature {}, top-p {}, repetition penalty {}, max copy {} onsets\n",
             demo_key.empty() ? std::string("key chosen by the model") : fmt::format("in {}{}", demo_key, key_strength >= 0 ? fmt::format(" (mask strength {})", key_strength) : ""),
             gc.g.temperature, gc.g.top_p, gc.g.repetition_penalty, gc.g.max_copy);
  auto made = run_generate(gc, true);
  fmt::print("4/4 analysing the pieces against the corpus\n");
  std::vector<std::string> files;
  for (const auto& p : made) files.push_back(p["midi"]);
  auto gen_set = eval::load_midi_set(files);
  auto ref_set = eval::load_corpus_set(corpus);
  auto report = eval::analyze(gen_set, &ref_set);
  write_file_atomic(out_dir + "/analysis.json", report.dump(2) + "\n");
  render::write_analysis_png(out_dir + "/analysis.png", gen_set, &ref_set);
  if (fs::exists(run + "/loss.png")) fs::copy_file(run + "/loss.png", out_dir + "/loss.png", fs::copy_options::overwrite_existing);
  fmt::print("\nDone. In {}/:\n", out_dir);
  for (const auto& p : made) {
    fmt::print("  {}  {}  {}  ({:.0f} s, {} notes, longest copy {} onsets{})\n", p["midi"].get<std::string>(), p["wav"].get<std::string>(),
               p["png"].get<std::string>(), p["seconds"].get<double>(), p["notes"].get<std::size_t>(), p["longest_copy_onsets"].get<std::size_t>(),
               p["longest_copy_from"].get<std::string>().empty() ? "" : " from " + fs::path(p["longest_copy_from"].get<std::string>()).filename().string());
  }
  fmt::print("  loss.png (training curve), analysis.png and analysis.json (pieces against the corpus)\n");
  const auto& g = report["generated"];
  const auto& r = report["reference"];
  for (const char* name : {"scale_consistency", "pitch_class_entropy", "distinct_ioi", "notes_per_beat", "empty_beat_rate"}) {
    if (g[name]["mean"].is_null() || r[name]["mean"].is_null()) continue;
    fmt::print("  {:<22} pieces {:.3f}   corpus {:.3f}\n", name, g[name]["mean"].get<double>(), r[name]["mean"].get<double>());
  }
  return 0;
}

}  // namespace arioso::neural_app
