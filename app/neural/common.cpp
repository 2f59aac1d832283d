// Helpers the model commands share; see neural.h.
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
#include "eval/originality.h"
#include "eval/likelihood.h"
#include "midi/midi_file.h"
#include "model/checkpoint.h"
#include "render/chart.h"
#include "render/render.h"
#include "serve/server.h"

namespace fs = std::filesystem;

namespace arioso::neural_app {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop.store(true); }

void add_generate_options(CLI::App* cmd, GenCli& o) {
  cmd->add_option("--temperature", o.g.temperature, "sampling temperature")->capture_default_str();
  cmd->add_option("--top-k", o.g.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", o.g.top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  cmd->add_option("--repetition-penalty", o.g.repetition_penalty, "penalty for pitches of the last 64 tokens (1 = off)")->capture_default_str();
  cmd->add_option("--no-repeat-ngram", o.g.no_repeat_ngram, "forbid repeating any n-gram of tokens (0 = off)");
  cmd->add_flag("--greedy", o.g.greedy, "always take the most likely token (the tutorial's argmax)");
  cmd->add_option("--notes", o.g.notes, "length in notes");
  cmd->add_option("--bars", o.g.bars, "length in bars (with --primer: new bars after it, in its meter and key)");
  cmd->add_option("--seconds", o.g.seconds, "length in seconds");
  cmd->add_option("--num", o.g.num, "number of pieces (generated as one batch)")->capture_default_str();
  cmd->add_option("--seed", o.g.seed, "random seed: same seed, same pieces")->capture_default_str();
  cmd->add_option("--key", o.key, "compose in a key, e.g. C:major, A:minor (a model with key tokens is conditioned on it; others mask pitches)");
  cmd->add_option("--key-strength", o.g.key_strength, "with --key, mask pitches too: 0 never leave the key; S > 0 out-of-key pitches lose S from their logits (default: no mask where the model has key tokens)");
  cmd->add_option("--tempo", o.g.tempo_bpm, "tempo in BPM");
  cmd->add_option("--program", o.g.program, "General MIDI program of a merged model's notes (0 = piano; a model with instruments keeps its own)")->check(CLI::Range(0, 127));
  cmd->add_option("--instruments", o.instruments, "compose only with these, e.g. \"piano,bass,strings,drums\": General MIDI names, families or program numbers (default: the model chooses)");
  cmd->add_flag("--no-drums", o.g.no_drums, "no drum part");
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
  model::use_threads(0);
  gen.set_precision(o.precision);
  if (!o.key.empty()) o.g.key = generate::parse_key(o.key);
  if (!o.instruments.empty()) o.g.instruments = music::parse_instruments(o.instruments);
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
void LocalRanks::stop() {
  for (pid_t p : pids) kill(p, SIGTERM);
  wait();
}

bool LocalRanks::wait() {
  bool ok = true;
  for (pid_t p : pids) {
    int status = 0;
    if (waitpid(p, &status, 0) < 0 || !WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130)) ok = false;
  }
  pids.clear();
  return ok;
}

std::vector<std::string> parsed_options(const CLI::App& app, const std::vector<std::string>& leave_out) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0 || !opt->nonpositional()) continue;
    const std::string name = opt->get_lnames().empty() ? "-" + opt->get_snames().front() : "--" + opt->get_lnames().front();
    if (std::find(leave_out.begin(), leave_out.end(), name) != leave_out.end() || name == "--help") continue;
    if (opt->get_expected_min() == 0) {
      out.push_back(name);  // a flag
      continue;
    }
    for (const auto& value : opt->results()) {
      out.push_back(name);
      out.push_back(value);
    }
  }
  return out;
}
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

void draw_run(const std::string& run_dir) { render::write_run_loss_png(run_dir); }

void index_run(const std::string& run_dir) {
  const data::RunFolder run{run_dir};
  const std::string corpus = data::read_json_file(run.config()).value("corpus", "");
  eval::write_copy_index(data::read_corpus(corpus), run.copy_index(), run.copy_sources());
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

}  // namespace arioso::neural_app
