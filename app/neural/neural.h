// What the model commands share (app/neural/*_cmd.cpp, opened as libarioso_neural.so by
// `arioso` only when one of them runs): the stop flag Ctrl-C sets, generation's options and
// output, local ranks for `train --ranks`, and where runs are kept. Parsing, printing and exit
// codes stay in these files, as for the other commands.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "generate/generate.h"
#include "train/train.h"

namespace arioso::neural_app {

/// Set by SIGINT: training and the demo stop cleanly, keeping what they learned.
extern std::atomic<bool> g_stop;
void on_sigint(int);

/// `generate`'s options (shared with the demo).
struct GenCli {
  std::string run, out_dir = ".", name = "piece", primer, soundfont, device = "cpu", precision = "fp32";
  bool primer_from_corpus = false, keep_primer = false, wav = false, png = false, json = false;
  int primer_length = 100;
  std::string key, instruments;
  generate::GenerateOptions g;
};
void add_generate_options(CLI::App* cmd, GenCli& o);
/// Composes and writes the pieces (MIDI, and WAV/PNG when asked); returns their summaries.
nlohmann::json run_generate(GenCli& o, bool quiet);

/// `train --ranks N`: the processes of ranks 1..N-1, started by start_local_ranks.
struct LocalRanks {
  std::vector<pid_t> pids;
  void stop();
  bool wait();  ///< false if a rank failed
};
/// Refuses --ranks settings that cannot work, before anything is prepared or started.
void check_local_ranks(int ranks, const train::TrainOptions& o);
/// Starts ranks 1..N-1 as `arioso train ARGS` with torchrun's variables; makes `o` rank 0 with
/// its share of the batch and the cores.
LocalRanks start_local_ranks(std::vector<std::string> train_args, int ranks, train::TrainOptions& o);
/// The arguments a parsed command was given, as CLI11 read them (options in long form), without
/// the options named in `leave_out` and without positionals: for the other ranks.
std::vector<std::string> parsed_options(const CLI::App& app, const std::vector<std::string>& leave_out);

void print_epoch(const train::EpochReport& r);
/// What a run folder gets besides what training writes: after each epoch its loss.png, at the
/// end the copy index of its corpus's training pieces (for generate's originality gate).
void draw_run(const std::string& run_dir);
void index_run(const std::string& run_dir);
/// `arioso train my-midis/ -o RUN`: prepares RUN/corpus.arioso from MIDI files and folders
/// (as `arioso prepare` would, listing skipped and repaired files) and returns its path.
std::string prepare_for_training(const std::vector<std::string>& inputs, const std::string& run_dir, const std::string& tokenizer);
/// runs/NAME for `train INPUT` without -o (-2, -3, ... when taken).
std::string fresh_run_dir(const std::string& input);
/// The newest run under runs/, else the demo's; "" if none.
std::string latest_run();

int cmd_train(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_evaluate(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_infill(int argc, char** argv);
int cmd_accompany(int argc, char** argv);

}  // namespace arioso::neural_app
