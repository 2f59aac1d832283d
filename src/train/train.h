// `arioso train` as a library call: windows of a corpus, AdamW (or RMSprop) with warm-up and
// cosine decay, clipping, transposition augmentation, validation every epoch, early stopping,
// checkpoints (best.pt, last.pt), log.csv, resume, and a clean stop on request. Pictures and the
// copy index of a run are made by its caller (render::write_run_loss_png, eval::write_copy_index).
#pragma once
#include <atomic>
#include <string>

#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "data/corpus.h"
#include "model/model.h"
#include "train/distributed.h"

namespace arioso::train {

struct TrainOptions {
  std::string corpus;
  std::string run_dir;
  std::string arch = "lstm";
  std::string preset = "auto";  ///< a model preset, or auto: by the time budget (auto_preset)
  bool scalar_input = false;
  int epochs = 20;             ///< with resume, < 0 keeps the run's own number; 0 with a time limit: as many as it allows
  double time_limit_min = 0;   ///< 0 = none
  int batch_size = 32;         ///< windows per step (the CLI's default: default_batch_size)
  int window = 0;              ///< tokens per window; 0 = 256 for LSTM, the context for a Transformer
  double lr = 2e-3;
  double weight_decay = 0.01;
  double dropout = -1;          ///< < 0: the preset's
  double clip = 1.0;
  double warmup_fraction = 0.02;
  std::string optimizer = "adamw";  ///< adamw | rmsprop
  bool augment = true;         ///< random transposition per window (tokenizers that support it)
  /// How the model reads pitches (model::ModelConfig::pitch_view): "auto" = "key" where the
  /// tokens have a Key in every bar (REMI with keys), else "absolute".
  std::string pitch_view = "auto";
  /// Share of the windows arranged for fill-in-the-middle (music/infill.h), where the corpus's
  /// tokenizer has the markers: what lets `arioso infill` and `accompany` use the run.
  double infill_share = 0.2;
  int patience = 5;
  std::uint64_t seed = 1;
  int threads = 0;             ///< 0 = auto
  std::string device = "cpu";
  bool resume = false;
  DistOptions dist;            ///< world size 1: one process, no group
  nlohmann::json to_json() const;
};

struct EpochReport {
  std::int64_t epoch = 0, step = 0;
  double train_loss = 0, valid_nll = 0, valid_ppl = 0, valid_acc = 0, lr = 0, tokens_per_s = 0, elapsed_s = 0;
  bool best = false;
};

struct TrainResult {
  std::int64_t epochs_done = 0;
  double best_valid_nll = 0;
  std::string stopped_because;  ///< "epochs", "early stopping", "time limit", "interrupted"
  std::string stop_detail;      ///< why, in words: "the 10-minute budget was used (12.3 epochs)", ...
  std::string model_choice;     ///< the model trained, and with --preset auto why: "lstm 2x192 (auto: ...)"
  std::vector<EpochReport> epochs;
  int world_size = 1;
  std::size_t gradient_bytes = 0;  ///< sent and received by each rank per step (world size > 1)
  std::uint64_t parameter_hash = 0;  ///< FNV-1a of the final parameters' bytes: equal on every rank
};

/// What `--preset auto` trains for a time budget of `minutes` on `cores` cores in all (every
/// rank's threads) with a vocabulary of `vocab` tokens. An LSTM is sized by the compute the
/// budget buys, C = kLstmParamTokensPerCoreSecond x cores x seconds (parameters x tokens): the
/// budget calls for sqrt(C / kTokensPerParameter) parameters (the compute-optimal form of
/// Hoffmann et al. 2022, whose 20 tokens per parameter is far too few here: measured on this
/// machine, smaller models won at every CPU budget tried; docs/models.md). Of the ladder tiny
/// (1x64), 2x128, 2x192, 2x256, small (2x384), the one nearest on a log scale. No budget
/// (epochs only): small. A Transformer: small.
struct PresetChoice {
  std::string preset;
  double target_parameters = 0;  ///< what the budget calls for (0: no budget)
};
PresetChoice auto_preset(const std::string& arch, double minutes, int cores, int vocab);
/// Parameters x training tokens per second that one core gets through in an LSTM (2x384 at
/// 5,600-6,000 tokens/s on one core of the development machine).
constexpr double kLstmParamTokensPerCoreSecond = 1.2e10;
/// Training tokens per parameter at the best size for a budget: calibrated on the seed and
/// default corpora at 5 minutes on one core, where the best of the ladder lay between tiny
/// and 2x128 (docs/models.md).
constexpr double kTokensPerParameter = 600;

/// Windows per step when none is given: 32 for an LSTM (of 256 tokens), 8 for a Transformer
/// (of its 1,024-token context): about 8,000 tokens a step either way.
int default_batch_size(const std::string& arch);

/// Validation: NLL per token (nats), perplexity, accuracy over `pieces` of one split,
/// with state carried across windows (every token scored once, given all before it in its piece).
struct Scores {
  double nll_sum = 0;
  std::int64_t tokens = 0;
  std::int64_t correct = 0;
  std::vector<float> token_nll;    ///< with keep_tokens: NLL of tokens 1..n-1, in order
  std::vector<bool> token_right;   ///< with keep_tokens: whether the argmax was that token
  double nll() const { return tokens ? nll_sum / static_cast<double>(tokens) : 0; }
};
/// Scores one token sequence (the first token has no prediction and is not scored).
Scores score_sequence(model::SequenceModel& model, const std::vector<std::uint16_t>& tokens, torch::Device device,
                      bool keep_tokens = false);
/// Scores many sequences, each exactly as score_sequence would; LSTM pieces run side by side
/// in batches (padding masked out), which is what makes validation fast.
std::vector<Scores> score_sequences(model::SequenceModel& model, const std::vector<const std::vector<std::uint16_t>*>& pieces,
                                    torch::Device device, bool keep_tokens = false);

/// The learning rate at `step`: linear warm-up over `warmup` steps, then a cosine from `base` down
/// to base / 10 at `total` steps (and there after). With a time budget, `total` is the steps the
/// budget allows at the rate measured so far.
double scheduled_lr(double base, double warmup, double total, std::int64_t step);

/// A plain (not fill-in-the-middle) training row: T + 1 ids, `header` first (the piece's header,
/// for a window cut from inside a piece that has one; empty otherwise), then the stream from the
/// cut (`body`, at least T + 1 - header.size() ids), and its T targets (target t follows id t).
/// Each target is the next id, except the one after the header: that is `after_header`, what
/// follows the header in its piece (its first bar's first Position), not the cut's token. Taught
/// the cut's token there, models learned that a header goes on with more instruments.
struct PlainRow {
  std::vector<std::int64_t> ids, targets;
  std::int64_t cut = 0;  ///< where the body begins
};
PlainRow plain_row(const std::vector<std::int64_t>& header, std::int64_t after_header, const std::int64_t* body, std::int64_t T);

/// Throws Error when `run_dir` already holds a run (last.pt): a new run there would overwrite it.
void check_new_run_dir(const std::string& run_dir);

/// Trains; `stop` (set from a signal handler) ends the run cleanly after writing last.pt.
TrainResult train(const TrainOptions& options, const std::atomic<bool>& stop, const ProgressFn& progress,
                  const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace arioso::train
