// The model commands (train, generate, evaluate, demo), built as libarioso_neural.so and opened
// by `arioso` only when one of them runs, so that the other commands never load libtorch.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/progress_bar.h"
#include "core/error.h"
#include "core/files.h"
#include "data/prepare.h"
#include "eval/analyze.h"
#include "generate/generate.h"
#include "midi/midi_file.h"
#include "render/chart.h"
#include "render/render.h"
#include "eval/likelihood.h"
#include "serve/server.h"
#include "train/train.h"

namespace fs = std::filesystem;
using namespace arioso;

namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop.store(true); }

struct GenCli {
  std::string run, out_dir = ".", name = "piece", primer, soundfont, device = "cpu", precision = "fp32";
  bool primer_from_corpus = false, keep_primer = false, wav = false, png = false, json = false;
  int primer_length = 100;
  std::string key;
  generate::GenerateOptions g;
};

void add_generate_options(CLI::App* cmd, GenCli& o) {
  cmd->add_option("--temperature", o.g.temperature, "sampling temperature")->capture_default_str();
  cmd->add_option("--top-k", o.g.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", o.g.top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  cmd->add_option("--repetition-penalty", o.g.repetition_penalty, "penalty for pitches of the last 64 tokens (1 = off)")->capture_default_str();
  cmd->add_option("--no-repeat-ngram", o.g.no_repeat_ngram, "forbid repeating any n-gram of tokens (0 = off)");
  cmd->add_flag("--greedy", o.g.greedy, "always take the most likely token (the tutorial's argmax)");
  cmd->add_option("--notes", o.g.notes, "length in notes");
  cmd->add_option("--bars", o.g.bars, "length in bars");
  cmd->add_option("--seconds", o.g.seconds, "length in seconds");
  cmd->add_option("--num", o.g.num, "number of pieces (generated as one batch)")->capture_default_str();
  cmd->add_option("--seed", o.g.seed, "random seed: same seed, same pieces")->capture_default_str();
  cmd->add_option("--key", o.key, "compose in a key, e.g. C:major, A:minor (a model with key tokens is conditioned on it; others mask pitches)");
  cmd->add_option("--key-strength", o.g.key_strength, "with --key, mask pitches too: 0 never leave the key; S > 0 out-of-key pitches lose S from their logits (default: no mask where the model has key tokens)");
  cmd->add_option("--tempo", o.g.tempo_bpm, "tempo in BPM");
  cmd->add_option("--program", o.g.program, "General MIDI program (0 = piano)")->check(CLI::Range(0, 127));
  cmd->add_option("--max-copy", o.g.max_copy, "never more than K consecutive onsets copied from a training piece (0 = off)")->capture_default_str();
  cmd->add_option("--primer", o.primer, "start from this MIDI file");
  cmd->add_flag("--primer-from-corpus", o.primer_from_corpus, "start from a random window of a training piece (the tutorial's way)");
  cmd->add_option("--primer-length", o.primer_length, "tokens of a corpus primer (classic)")->capture_default_str();
  cmd->add_flag("--keep-primer", o.keep_primer, "keep the primer in the output");
  cmd->add_flag("--wav", o.wav, "also write audio (FluidSynth, 44.1 kHz)");
  cmd->add_flag("--png", o.png, "also write a piano-roll picture");
  cmd->add_option("--soundfont", o.soundfont, "General MIDI soundfont (default: the one Debian installs)");
  cmd->add_flag("--json", o.json, "print the summary as JSON");
  cmd->add_option("--device", o.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--precision", o.precision, "fp32 (exact) or bf16 (LSTM steps read bfloat16 weights: faster on CPUs with bf16)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}));
}

nlohmann::json run_generate(GenCli& o, bool quiet) {
  generate::Generator gen(o.run, o.device);
  model::use_threads(0, gen.meta().model.arch);
  gen.set_precision(o.precision);
  if (!o.key.empty()) o.g.key = generate::parse_key(o.key);
  if (!o.primer.empty()) o.g.primer = gen.primer_from_midi(o.primer);
  else if (o.primer_from_corpus || gen.tokenizer().name == "classic") o.g.primer = gen.primer_from_corpus(o.g.seed, o.primer_length);
  if (o.g.notes == 0 && o.g.bars == 0 && o.g.seconds == 0) {
    if (gen.tokenizer().name == "classic") o.g.notes = 500;
    else o.g.bars = 16;
  }
  fs::create_directories(o.out_dir);
  auto pieces = gen.generate(o.g);
  std::string sf = o.soundfont.empty() ? render::find_soundfont() : o.soundfont;
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    auto& p = pieces[i];
    std::string base = (fs::path(o.out_dir) / (pieces.size() > 1 ? fmt::format("{}-{}", o.name, i + 1) : o.name)).string();
    write_file_atomic(base + ".mid", midi::write_midi(music::score_to_midi(p.score)));
    nlohmann::json j{{"midi", base + ".mid"}, {"notes", p.notes}, {"bars", p.bars}, {"seconds", p.seconds},
                     {"longest_copy_onsets", p.copy.longest_onsets}, {"longest_copy_seconds", p.copy.longest_seconds},
                     {"longest_copy_from", p.copy_source}, {"stopped_by_gate", p.stopped_by_gate}, {"tokens", p.tokens.size()}};
    if (o.wav) {
      render::write_wav(base + ".wav", p.score, sf);
      j["wav"] = base + ".wav";
    }
    if (o.png) {
      render::write_piano_roll_png(base + ".png", p.score, p.primer_end_tick);
      j["png"] = base + ".png";
    }
    if (!quiet && !o.json) {
      fmt::print("{}: {} notes, {} bars, {:.1f} s; longest copy {} onsets ({:.1f} s){}{}\n", base + ".mid", p.notes, p.bars, p.seconds,
                 p.copy.longest_onsets, p.copy.longest_seconds, p.copy_source.empty() ? "" : " from " + p.copy_source,
                 p.stopped_by_gate ? " (ended early by the originality gate)" : "");
    }
    out.push_back(j);
  }
  if (o.json && !quiet) fmt::print("{}\n", nlohmann::json{{"pieces", out}}.dump(2));
  return out;
}

// `train --ranks N`: this process becomes rank 0 of N; ranks 1..N-1 are this program again,
// with the same arguments and torchrun's variables, on a free loopback port. The batch and the
// cores are split among them, so the run computes what one process would, only sooner.
struct LocalRanks {
  std::vector<pid_t> pids;
  void stop() {
    for (pid_t p : pids) kill(p, SIGTERM);
    wait();
  }
  bool wait() {
    bool ok = true;
    for (pid_t p : pids) {
      int status = 0;
      if (waitpid(p, &status, 0) < 0 || !WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130)) ok = false;
    }
    pids.clear();
    return ok;
  }
};

/// Refuses --ranks settings that cannot work, before anything is prepared or started.
void check_local_ranks(int ranks, const train::TrainOptions& o) {
  if (o.dist.world_size > 1) throw ConfigError("--ranks starts a group of its own: leave out WORLD_SIZE / --world-size, or --ranks");
  if (o.batch_size % ranks != 0) throw ConfigError(fmt::format("--ranks {}: --batch-size {} must be a multiple of it", ranks, o.batch_size));
}

// `args`: what follows `arioso train` for the other ranks (without --batch-size and --threads).
LocalRanks start_local_ranks(std::vector<std::string> train_args, int ranks, train::TrainOptions& o) {
  check_local_ranks(ranks, o);
  const int cores = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int each = std::max(1, cores / ranks);
  o.batch_size /= ranks;
  o.threads = each;
  o.dist.world_size = ranks;
  o.dist.rank = 0;
  o.dist.master_addr = "127.0.0.1";
  o.dist.master_port = train::free_loopback_port();
  std::vector<std::string> args{"arioso", "train"};
  args.insert(args.end(), train_args.begin(), train_args.end());
  for (const std::string& x : std::vector<std::string>{"--batch-size", std::to_string(o.batch_size), "--threads", std::to_string(each)}) args.push_back(x);
  LocalRanks local;
  for (int r = 1; r < ranks; ++r) {
    pid_t pid = fork();
    if (pid < 0) throw Error("--ranks: fork failed");
    if (pid == 0) {
      setenv("WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(o.dist.master_port).c_str(), 1);
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);  // rank 0 reports; errors still reach stderr
      std::vector<char*> cargv;
      for (auto& a : args) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv("/proc/self/exe", cargv.data());
      _exit(127);
    }
    local.pids.push_back(pid);
  }
  return local;
}

void print_epoch(const train::EpochReport& r) {
  fmt::print("epoch {}: train loss {:.4f}, valid NLL {:.4f} (ppl {:.2f}, acc {:.1f}%), {:.0f} tok/s, {:.0f} s{}\n", r.epoch,
             r.train_loss, r.valid_nll, r.valid_ppl, 100 * r.valid_acc, r.tokens_per_s, r.elapsed_s, r.best ? " *best" : "");
  std::fflush(stdout);
}

/// `arioso train my-midis/ -o RUN`: prepares RUN/corpus.arioso from MIDI files and folders
/// (as `arioso prepare` would, listing skipped files) and returns its path.
std::string prepare_for_training(const std::vector<std::string>& inputs, const std::string& run_dir, const std::string& tokenizer) {
  train::check_new_run_dir(run_dir);  // before the corpus is written into it
  fs::create_directories(run_dir);
  const std::string corpus = run_dir + "/corpus.arioso";
  fmt::print("preparing {} ({} tokenizer) into {}\n", fmt::join(inputs, ", "), tokenizer, corpus);
  std::fflush(stdout);
  data::PrepareOptions po;
  po.tokenizer = music::tokenizer_named(tokenizer);
  app::ProgressBar bar;
  auto r = data::prepare_corpus(inputs, po, [&](const Progress& p) { bar(p); });
  data::write_corpus(corpus, r.corpus);
  fmt::print("  {} files read, {} skipped; {} pieces ({} held out for validation), {:.0f} minutes of music\n", r.files_read,
             r.skipped.size(), r.corpus.pieces.size(), r.corpus.piece_count(data::Split::kValid), r.minutes);
  for (const auto& sk : r.skipped) fmt::print("    skipped {}: {}\n", sk.file, sk.error);
  for (const auto& rp : r.repairs) fmt::print("    repaired {}\n", rp.error);
  std::fflush(stdout);
  return corpus;
}

/// runs/NAME for `train INPUT` without -o: NAME from the folder or file, with -2, -3, ... when
/// runs/NAME already holds something.
std::string fresh_run_dir(const std::string& input) {
  fs::path p = fs::path(input).lexically_normal();
  std::string name = (p.has_filename() ? p : p.parent_path()).stem().string();
  if (name.empty() || name == "." || name == "..") name = "run";
  std::string dir = "runs/" + name;
  for (int i = 2; fs::exists(dir); ++i) dir = fmt::format("runs/{}-{}", name, i);
  return dir;
}

/// The run `generate` uses when none is named: the newest under runs/ (by its checkpoint's
/// time), else the demo's; "" if there is none.
std::string latest_run() {
  std::string best;
  fs::file_time_type newest{};
  std::error_code ec;
  if (fs::is_directory("runs", ec)) {
    for (const auto& e : fs::directory_iterator("runs", ec)) {
      for (const char* f : {"/best.pt", "/last.pt"}) {
        fs::path ck = e.path().string() + f;
        if (!fs::exists(ck, ec)) continue;
        auto t = fs::last_write_time(ck, ec);
        if (!ec && (best.empty() || t > newest)) best = e.path().string(), newest = t;
      }
    }
  }
  if (best.empty() && fs::exists("arioso-demo/run/best.pt", ec)) best = "arioso-demo/run";
  return best;
}

int cmd_train(int argc, char** argv) {
  CLI::App app{"arioso train CORPUS|MIDI... -o RUN_DIR"};
  train::TrainOptions o;
  std::string resume;
  std::vector<std::string> inputs;
  app.add_option("inputs", inputs, "a corpus from 'arioso prepare', or MIDI files and folders (prepared into RUN_DIR/corpus.arioso)");
  std::string tokenizer = "remi";
  app.add_option("--tokenizer", tokenizer, "with MIDI inputs: remi (default: rhythm, compact notes, key tokens), remi-plain or classic (the tutorial's)")
      ->capture_default_str()->check(CLI::IsMember({"remi", "remi-plain", "classic"}));
  app.add_option("-o,--output", o.run_dir, "run folder (config.json, best.pt, last.pt, log.csv, loss.png)");
  app.add_option("--resume", resume, "continue the run in this folder from last.pt");
  app.add_option("--model", o.arch, "lstm or transformer")->capture_default_str();
  app.add_option("--preset", o.preset, "lstm: small, seed (3x512, the tutorial's), tiny; transformer: small, gpu, tiny")->capture_default_str();
  std::string input = "embedding";
  app.add_option("--input", input, "lstm input: embedding, or scalar (the tutorial's id/vocab)")->check(CLI::IsMember({"embedding", "scalar"}));
  app.add_option("--epochs", o.epochs, "passes over the corpus (default 20; with --time-limit and no --epochs, as many as the time allows)");
  app.add_option("--time-limit", o.time_limit_min, "minutes (0 = none); the learning-rate schedule spans them");
  app.add_option("--batch-size", o.batch_size)->capture_default_str();
  app.add_option("--window", o.window, "tokens per training window (default 256 LSTM, context for Transformer)");
  app.add_option("--lr", o.lr)->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay)->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "adamw or rmsprop (the tutorial's)")->capture_default_str();
  app.add_option("--patience", o.patience, "epochs without improvement before stopping (0 = never)")->capture_default_str();
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
    // The other ranks' arguments: ours without --ranks, --batch-size and --threads (and, where
    // the MIDI inputs were prepared here, the corpus instead of them).
    std::vector<std::string> args;
    if (prepared) args.push_back(o.corpus);
    if (named_run) args.insert(args.end(), {"-o", o.run_dir});
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      const std::string prev = i > 1 ? argv[i - 1] : "";
      const bool is_value = prev.size() > 1 && prev[0] == '-' && prev.find('=') == std::string::npos && prev != "--no-augment";
      if (prepared && !is_value && std::find(inputs.begin(), inputs.end(), a) != inputs.end()) continue;
      if (a == "--ranks" || a == "--batch-size" || a == "--threads") {
        ++i;
        continue;
      }
      if (a.rfind("--ranks=", 0) == 0 || a.rfind("--batch-size=", 0) == 0 || a.rfind("--threads=", 0) == 0) continue;
      args.push_back(a);
    }
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
    r = train::train(o, g_stop, lead ? ProgressFn([&](const Progress& p) { bar(p); }) : ProgressFn(), lead ? print_epoch : nullptr);
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
  fmt::print("stopped: {} after {} epochs: {}; best validation NLL {:.4f}; run in {}\n", r.stopped_because, r.epochs_done, r.stop_detail,
             r.best_valid_nll, o.run_dir);
  return r.stopped_because == "interrupted" ? 130 : 0;
}

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

int cmd_evaluate(int argc, char** argv) {
  CLI::App app{"arioso evaluate RUN_DIR --midi DIR | --corpus CORPUS"};
  std::string run, midi_dir, corpus_path, split = "valid", device_name = "cpu";
  bool json = false;
  app.add_option("--device", device_name, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("run", run)->required();
  app.add_option("--midi", midi_dir, "MIDI files or folder to score");
  app.add_option("--corpus", corpus_path, "a corpus to score");
  app.add_option("--split", split, "valid, test or all")->check(CLI::IsMember({"valid", "test", "train", "all"}));
  app.add_flag("--json", json);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (midi_dir.empty() == corpus_path.empty()) {
    fmt::print(stderr, "arioso evaluate: give exactly one of --midi or --corpus\n");
    return 2;
  }
  std::string ckpt = fs::exists(run + "/best.pt") ? run + "/best.pt" : run + "/last.pt";
  model::CheckpointMeta meta;
  if (device_name == "cuda" && !torch::cuda::is_available()) throw ConfigError("--device cuda: this libtorch has no CUDA or no GPU is visible");
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  auto m = model::load_checkpoint(ckpt, &meta);
  model::use_threads(0, meta.model.arch);
  model::keep_freed_memory();
  m->to(device);
  m->eval();
  auto tok = music::TokenizerConfig::from_json(meta.tokenizer);
  music::Vocab vocab(meta.vocab);
  struct Item { std::string file; std::vector<std::uint16_t> ids; music::Score decoded; };
  std::vector<Item> items;
  nlohmann::json skipped = nlohmann::json::array();
  if (!midi_dir.empty()) {
    for (const auto& f : find_midi_files({midi_dir})) {
      try {
        auto file = midi::read_midi_file(f);
        auto tokens = music::tokenize(file, tok);
        Item it{f, {}, {}};
        for (const auto& t : tokens) {
          auto id = vocab.find(t);
          if (!id) throw Error(fmt::format("token '{}' is not in the run's vocabulary", t));
          it.ids.push_back(static_cast<std::uint16_t>(*id));
        }
        it.decoded = music::detokenize(tokens, tok);
        items.push_back(std::move(it));
      } catch (const Error& e) {
        skipped.push_back({{"file", f}, {"error", e.what()}});
      }
    }
  } else {
    auto c = data::read_corpus(corpus_path);
    if (c.vocab.hash() != meta.vocab_hash) {
      throw FormatError(fmt::format("{}: vocabulary ({} tokens) does not match corpus {} ({} tokens)", ckpt, meta.vocab.size(), corpus_path, c.vocab.size()));
    }
    for (const auto& p : c.pieces) {
      if (split != "all" && split != data::split_name(p.split)) continue;
      std::vector<std::string> tokens;
      for (auto t : p.tokens) tokens.push_back(c.vocab.token(t));
      items.push_back({p.source, p.tokens, music::detokenize(tokens, tok)});
    }
  }
  std::vector<const std::vector<std::uint16_t>*> seqs;
  for (const auto& it : items) seqs.push_back(&it.ids);
  auto scores = train::score_sequences(*m, seqs, device, /*keep_tokens=*/true);
  const auto kinds = music::token_kinds(meta.vocab, tok);
  nlohmann::json pieces = nlohmann::json::array();
  eval::Likelihood total;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto l = eval::piece_likelihood(items[i].file, items[i].ids, scores[i].token_nll, scores[i].token_right, kinds, items[i].decoded);
    total.merge(l);
    pieces.push_back(l.to_json());
  }
  nlohmann::json out{{"pieces", pieces}, {"total", total.to_json()}, {"skipped", skipped}};
  out["total"].erase("file");
  out["total"]["pieces"] = pieces.size();
  if (json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
    for (const auto& p : pieces) {
      fmt::print("{}: {} tokens, {} notes; NLL/token {:.4f}, /note {:.3f}, /beat {:.3f}, /second {:.3f}; acc {:.1f}%\n",
                 p["file"].get<std::string>(), p["tokens"].get<long>(), p["notes"].get<long>(), num(p["nll_per_token"]), num(p["nll_per_note"]),
                 num(p["nll_per_beat"]), num(p["nll_per_second"]), 100 * num(p["accuracy"]));
    }
    const auto& t = out["total"];
    fmt::print("total: {} pieces, {} tokens, {} notes; NLL/token {:.4f} (perplexity {:.2f}), /note {:.3f}, /beat {:.3f}, /second {:.3f}; accuracy {:.1f}%\n",
               pieces.size(), t["tokens"].get<long>(), t["notes"].get<long>(), num(t["nll_per_token"]), num(t["perplexity"]),
               num(t["nll_per_note"]), num(t["nll_per_beat"]), num(t["nll_per_second"]), 100 * num(t["accuracy"]));
    std::string split_line;
    for (const auto& [kind, v] : t["by_kind"].items()) {
      split_line += fmt::format("  {} {:.3f}/note ({:.0f}%)", kind, num(v["nll_per_note"]), 100 * num(v["share"]));
    }
    if (!split_line.empty()) fmt::print("by kind (nats per note, share of the loss):{}\n", split_line);
    for (const auto& s : skipped) fmt::print(stderr, "skipped {}: {}\n", s["file"].get<std::string>(), s["error"].get<std::string>());
  }
  return 0;
}

int cmd_demo(int argc, char** argv) {
  CLI::App app{"arioso demo: learn the default corpus, compose three pieces"};
  std::vector<std::string> midi_dirs = {"/usr/share/games/simutrans/music", "/usr/share/games/openttd/baseset/openmsx"};
  std::string given, out_dir = "arioso-demo", preset = "small", arch = "lstm";
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
      train::train(to, g_stop, [&](const Progress& p) { bar(p); }, print_epoch);
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
  gc.g.temperature = 1.0;
  gc.g.top_p = 0.95;
  fmt::print("    {}, temperature {}, top-p {}, max copy {} onsets\n",
             demo_key.empty() ? std::string("key chosen by the model") : fmt::format("in {}{}", demo_key, key_strength >= 0 ? fmt::format(" (mask strength {})", key_strength) : ""),
             gc.g.temperature, gc.g.top_p, gc.g.max_copy);
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

}  // namespace

extern "C" __attribute__((visibility("default"))) int arioso_neural_main(int argc, char** argv) {
  // argv: arioso <command> args...; each command parses from its own name on.
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "train") return cmd_train(argc - 1, argv + 1);
    if (cmd == "generate") return cmd_generate(argc - 1, argv + 1);
    if (cmd == "evaluate") return cmd_evaluate(argc - 1, argv + 1);
    if (cmd == "demo") return cmd_demo(argc - 1, argv + 1);
    if (cmd == "serve") return cmd_serve(argc - 1, argv + 1);
  } catch (const ConfigError& e) {
    fmt::print(stderr, "arioso {}: {}\n", cmd, e.what());
    return 2;
  } catch (const Error& e) {
    fmt::print(stderr, "\narioso {}: {}\n", cmd, e.what());
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "\narioso {}: libtorch: {}\n", cmd, e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {  // filesystem, json, ...: never std::terminate
    fmt::print(stderr, "\narioso {}: {}\n", cmd, e.what());
    return 1;
  } catch (...) {
    fmt::print(stderr, "\narioso {}: an unexpected error (not a standard exception)\n", cmd);
    return 1;
  }
  fmt::print(stderr, "arioso: unknown model command '{}'\n", cmd);
  return 2;
}
