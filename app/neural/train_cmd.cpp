// `arioso train CORPUS|MIDI... -o RUN`: prepares MIDI inputs, starts local ranks, trains, reports.
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
int cmd_train(int argc, char** argv) {
  CLI::App app{"arioso train CORPUS|MIDI... -o RUN_DIR"};
  train::TrainOptions o;
  std::string resume;
  std::vector<std::string> inputs;
  app.add_option("inputs", inputs, "a corpus from 'arioso prepare', or MIDI files and folders (prepared into RUN_DIR/corpus.arioso)");
  std::string tokenizer = "remi";
  app.add_option("--tokenizer", tokenizer, "with MIDI inputs: remi (default: rhythm, compact notes, key tokens, every instrument and the drums, Repeat_k for a repeated bar), remi-no-repeats (every bar written out), remi-merged (pitched parts merged), remi-plain or classic (the tutorial's)")
      ->capture_default_str()->check(CLI::IsMember({"remi", "remi-no-repeats", "remi-merged", "remi-plain", "classic"}));
  app.add_option("-o,--output", o.run_dir, "run folder (config.json, best.pt, last.pt, log.csv, loss.png)");
  app.add_option("--resume", resume, "continue the run in this folder from last.pt");
  app.add_option("--model", o.arch, "lstm or transformer")->capture_default_str();
  app.add_option("--preset", o.preset, "auto (by the time budget; small without one), lstm: small (2x384), seed (3x512, the tutorial's), tiny, 2xH; transformer: small, gpu, tiny")->capture_default_str();
  std::string input = "embedding";
  app.add_option("--input", input, "lstm input: embedding, or scalar (the tutorial's id/vocab)")->check(CLI::IsMember({"embedding", "scalar"}));
  app.add_option("--epochs", o.epochs, "passes over the corpus (default 20; with --time-limit and no --epochs, as many as the time allows)");
  app.add_option("--time-limit", o.time_limit_min, "minutes (0 = none); the learning-rate schedule spans them");
  app.add_option("--batch-size", o.batch_size, "windows per step (default 32 for an LSTM, 8 for a Transformer)");
  app.add_option("--window", o.window, "tokens per training window (default 256 LSTM, context for Transformer)");
  app.add_option("--lr", o.lr)->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay)->capture_default_str();
  app.add_option("--dropout", o.dropout, "dropout between layers and before the output (default: the preset's, 0.2 for 2xH and small)")->check(CLI::Range(0.0, 0.9));
  app.add_option("--optimizer", o.optimizer, "adamw or rmsprop (the tutorial's)")->capture_default_str();
  app.add_option("--patience", o.patience, "epochs without improvement before stopping (0 = never)")->capture_default_str();
  app.add_option("--infill-share", o.infill_share, "share of the windows arranged for fill-in-the-middle, so that 'arioso infill' and 'accompany' can use the run (tokenizer remi)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--pitch-view", o.pitch_view, "how the model reads pitches: key (relative to each bar's key), absolute (as written), auto (key where the tokens have keys)")
      ->check(CLI::IsMember({"auto", "key", "absolute"}));
  bool no_augment = false;
  app.add_flag("--no-augment", no_augment, "no transposition augmentation");
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--threads", o.threads, "cores to use (0 = all; an LSTM on libtorch's threads and oneDNN, a Transformer on OpenBLAS threads)");
  app.add_option("--device", o.device, "cpu or cuda")->capture_default_str();
  auto* world_opt = app.add_option("--world-size", o.dist.world_size, "ranks in the group (default: $WORLD_SIZE, else 1)");
  auto* rank_opt = app.add_option("--rank", o.dist.rank, "this process's rank (default: $RANK, else 0)");
  auto* addr_opt = app.add_option("--master-addr", o.dist.master_addr, "rank 0's address (default: $MASTER_ADDR, else 127.0.0.1)");
  auto* port_opt = app.add_option("--master-port", o.dist.master_port, "rank 0's port (default: $MASTER_PORT, else 29500)");
  app.add_option("--dist-timeout", o.dist.timeout_s, "seconds a rank waits for the others before failing")->capture_default_str();
  int ranks = 1;
  app.add_option("--ranks", ranks, "train as N local processes, data-parallel, the batch split among them (faster than threads on small CPUs)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.get_option("--batch-size")->count() == 0) o.batch_size = train::default_batch_size(o.arch);
  o.dist = train::DistOptions::from_env(o.dist, world_opt->count() > 0, rank_opt->count() > 0, addr_opt->count() > 0, port_opt->count() > 0);
  if (ranks > 1) check_local_ranks(ranks, o);
  bool prepared = false, named_run = false;
  if (o.run_dir.empty() && resume.empty() && !inputs.empty() && o.dist.world_size == 1) {
    o.run_dir = fresh_run_dir(inputs[0]);
    named_run = true;
    fmt::print("run folder: {} (-o DIR to choose)\n", o.run_dir);
  }
  if (inputs.size() == 1 && data::is_corpus_file(inputs[0])) {
    o.corpus = inputs[0];
  } else if (!inputs.empty() && resume.empty()) {
    if (o.run_dir.empty()) {
      fmt::print(stderr, "arioso train: give -o RUN_DIR (the corpus made from the MIDI files is kept there)\n");
      return 2;
    }
    if (o.dist.world_size > 1) throw ConfigError("a group of ranks trains on a prepared corpus: run 'arioso prepare' first and give its file");
    for (const auto& in : inputs) {
      if (!fs::exists(in)) throw Error(fmt::format("{}: not found", in));
    }
    o.corpus = prepare_for_training(inputs, o.run_dir, tokenizer);
    prepared = true;
  }
  LocalRanks local;
  if (ranks > 1) {
    // The other ranks' arguments: ours as CLI11 parsed them, without --ranks, --batch-size and
    // --threads (start_local_ranks gives each its share), and the prepared corpus, where the
    // MIDI inputs were prepared here, instead of them.
    std::vector<std::string> args = prepared ? std::vector<std::string>{o.corpus} : inputs;
    if (named_run) args.insert(args.end(), {"-o", o.run_dir});
    for (auto& a : parsed_options(app, {"--ranks", "--batch-size", "--threads"})) args.push_back(std::move(a));
    local = start_local_ranks(args, ranks, o);
  }
  o.scalar_input = input == "scalar";
  o.augment = !no_augment;
  if (o.time_limit_min > 0 && app.get_option("--epochs")->count() == 0 && resume.empty()) o.epochs = 0;  // the budget decides
  if (!resume.empty()) {
    o.resume = true;
    o.run_dir = resume;
    if (app.get_option("--epochs")->count() == 0) o.epochs = -1;  // keep the run's own plan
  } else if (o.corpus.empty() || o.run_dir.empty()) {
    fmt::print(stderr, "arioso train: give CORPUS and -o RUN_DIR (or --resume RUN_DIR)\n");
    return 2;
  }
  signal(SIGINT, on_sigint);
  app::ProgressBar bar;
  const bool lead = o.dist.rank == 0;
  if (o.dist.world_size > 1) {
    fmt::print("rank {} of {}: joining the group at {}:{}\n", o.dist.rank, o.dist.world_size, o.dist.master_addr, o.dist.master_port);
    std::fflush(stdout);
  }
  train::TrainResult r;
  try {
    auto on_epoch = [&](const train::EpochReport& e) {
      print_epoch(e);
      draw_run(o.run_dir);
    };
    r = train::train(o, g_stop, lead ? ProgressFn([&](const Progress& p) { bar(p); }) : ProgressFn(),
                     lead ? std::function<void(const train::EpochReport&)>(on_epoch) : nullptr);
    if (lead) index_run(o.run_dir);
  } catch (...) {
    local.stop();
    throw;
  }
  if (!local.wait()) throw Error("a local rank failed (its error is above)");
  if (r.world_size > 1) {
    fmt::print("rank {} of {}: parameters {:016x}{}\n", o.dist.rank, r.world_size, r.parameter_hash,
               lead ? fmt::format(" ({} ranks took part; {:.1f} MB of gradients all-reduced per step)", r.world_size, static_cast<double>(r.gradient_bytes) / 1e6) : "");
  }
  if (!lead) return r.stopped_because == "interrupted" ? 130 : 0;
  if (!r.model_choice.empty()) fmt::print("model: {}\n", r.model_choice);
  fmt::print("stopped: {} after {} epochs: {}; best validation NLL {:.4f}; run in {}\n", r.stopped_because, r.epochs_done, r.stop_detail,
             r.best_valid_nll, o.run_dir);
  return r.stopped_because == "interrupted" ? 130 : 0;
}

}  // namespace arioso::neural_app
