// Generation: where tokens become music again. Incremental decoding (carried LSTM state or
// Transformer cache), sampling (temperature, top-k, top-p, repetition penalty, no-repeat
// n-grams, greedy), the tokenizer's grammar, key and tempo constraints, and the originality
// gate that never lets more than K consecutive onsets of a training piece through.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "eval/originality.h"
#include "generate/infill.h"
#include "music/infill.h"
#include "model/checkpoint.h"
#include "music/instruments.h"
#include "music/score.h"
#include "music/tokenizer.h"

namespace arioso::generate {

struct GenerateOptions {
  double temperature = 1.0;
  int top_k = 0;               ///< 0 = off
  double top_p = 0.95;         ///< 1 = off
  /// CTRL-style, on the pitches of the last 64 tokens; 1 = off, the default: a penalty pushes
  /// a piece off the pitches it has and made the pieces less tonal (docs/demo.md)
  double repetition_penalty = 1.0;
  int no_repeat_ngram = 0;     ///< 0 = off
  bool greedy = false;
  int notes = 0;               ///< stop after this many notes (0 = not this way)
  int bars = 0;
  double seconds = 0;
  int num = 1;
  std::uint64_t seed = 1;
  std::optional<std::pair<int, bool>> key;  ///< (tonic pitch class, minor)
  /// With `key`: < 0 (default): a model with Key tokens is conditioned on the key (its Key
  /// tokens are that key) and nothing is masked; one without them gets the mask as with 0.
  /// 0: pitches outside the key are forbidden; > 0: their logits lose this much.
  double key_strength = -1;
  double tempo_bpm = 0;        ///< 0 = the model's choice
  int program = 0;             ///< General MIDI program of a merged model's output (a model with instruments keeps its own)
  /// Only these instruments (a model with instruments): Program tokens of others, and Drum
  /// tokens unless drums are named, are never sampled. Unset: the model chooses.
  std::optional<music::InstrumentSet> instruments;
  bool no_drums = false;       ///< no Drum tokens (with or without `instruments`)
  int max_copy = 16;           ///< 0 disables the gate
  /// Primer tokens (already in the model's vocabulary). A REMI continuation keeps the primer's
  /// meter and, with key tokens, its last key (unless `key` is given); `bars` then counts new bars.
  std::vector<std::string> primer;
  bool keep_primer = false;
  int max_tokens = 20000;      ///< safety bound per piece
  /// Called now and then with the share (0..1) of the requested length composed so far (by
  /// the least advanced piece of the batch), for progress displays.
  std::function<void(double)> on_progress;
};

struct Piece {
  std::vector<std::string> tokens;   ///< generated tokens (with the primer's when kept)
  music::Score score;                ///< decoded, with program and tempo applied
  std::uint64_t primer_end_tick = 0; ///< notes before this tick come from the primer
  std::size_t notes = 0;
  int bars = 0;
  double seconds = 0;
  eval::CopyReport copy;             ///< longest copy of the generated onsets (after the primer)
  std::string copy_source;           ///< training piece of the longest copy
  bool stopped_by_gate = false;      ///< the gate left no continuation: the piece ends early
};

/// Removes tempo, meter and key changes at or after the last note's end (but never those at
/// tick 0): they sound like nothing, yet would make the MIDI file, and players' idea of its
/// length, longer than the music (a model may emit a Tempo token just before it stops).
void drop_trailing_changes(music::Score& score);

/// Ids of a vocabulary of `vocab_size` that `--instruments` and `--no-drums` rule out (Program
/// tokens of other instruments, Drum tokens); all false when neither is given. Throws
/// ConfigError when they are given to a run whose tokenizer has no instruments.
std::vector<bool> banned_instruments(const GenerateOptions& options, const music::TokenizerConfig& tokenizer, int vocab_size);

/// In the header of a model with instruments: the piece declares one instrument of each item of
/// `want` (of the model's choice within a family), ascending, and nothing else.
void require_header(const music::RemiGrammar& grammar, const music::InstrumentSet& want, std::vector<bool>& allowed);

/// Parses "C:major", "A:minor", "F#:minor", "Bb:major"; throws ConfigError.
std::pair<int, bool> parse_key(const std::string& text);

class Generator {
 public:
  /// Loads a run (RUN_DIR/best.pt, else last.pt, and copy_index.bin) onto `device` (cpu or
  /// cuda; throws ConfigError when CUDA is asked for and absent).
  explicit Generator(const std::string& run_dir, const std::string& device = "cpu");
  const music::TokenizerConfig& tokenizer() const { return tokenizer_; }
  const music::Vocab& vocab() const { return vocab_; }
  const model::CheckpointMeta& meta() const { return meta_; }
  /// "fp32" (default, exact) or "bf16": an LSTM's one-token steps read bfloat16 weights (half the
  /// bytes, which is what bounds a batch-1 step); it pays only in builds without oneDNN: with it,
  /// float steps ran 2x faster than bf16 here (bench/RESULTS.md). The logits move by ~1e-4..1e-2,
  /// so samples can differ from fp32's. Throws ConfigError otherwise.
  void set_precision(const std::string& precision);
  /// Composes `options.num` pieces in one batch.
  std::vector<Piece> generate(const GenerateOptions& options);
  /// Tokens of a MIDI file in this run's vocabulary (unknown classic tokens are dropped).
  std::vector<std::string> primer_from_midi(const std::string& path) const;
  /// A random window of `length` tokens of a training piece (the tutorial's start).
  std::vector<std::string> primer_from_corpus(std::uint64_t seed, int length) const;
  /// Fills bars of `song` or adds parts to it (generate/infill.h); throws ConfigError when the
  /// run cannot (no Fill markers) or the bars are not the song's.
  InfillResult infill(const music::Score& song, const InfillOptions& options);

 private:
  std::vector<int> sample_middle(const std::vector<int>& context, int span_first_rel, int span_bars, const std::vector<bool>& may_play,
                                 const music::InstrumentSet* require, const InfillOptions& o, std::mt19937_64& rng);
  /// One step's new notes: sample_middle under the originality gate (generate/infill.cpp).
  std::vector<music::Note> sample_step(const std::vector<int>& context, int span_first_rel, int span_bars, const std::vector<bool>& may_play,
                                       const music::InstrumentSet* require, const InfillOptions& o, std::mt19937_64& rng,
                                       const std::vector<std::uint64_t>& bars, const music::FillSpan& step,
                                       const std::vector<music::Note>& before, std::vector<bool>& declared, int& retries);
  /// NLL (nats) of `middle` (ids, ending with FillEnd) after `context`.
  double middle_nll(const std::vector<int>& context, const std::vector<int>& middle);
  InfillResult finish_infill(const music::Score& given, const music::Score& quantized, std::vector<music::Note> new480,
                             const InfillOptions& o, InfillResult r);
  std::string run_dir_;
  model::CheckpointMeta meta_;
  torch::Device device_;
  std::shared_ptr<model::SequenceModel> model_;
  music::TokenizerConfig tokenizer_;
  music::Vocab vocab_;
  eval::CopyIndex index_;
  std::vector<std::string> sources_;
  std::string corpus_path_;
};

}  // namespace arioso::generate
