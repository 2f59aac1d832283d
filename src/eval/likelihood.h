// How well a model predicts music, in units that compare across tokenizers: the NLL of a
// piece summed over its tokens, divided by its tokens, notes, beats and seconds, and split by
// what each token says (pitch, timing, duration, velocity, structure, instrument). Fed with
// per-token NLLs from a model; no libtorch here.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "music/tokenizer.h"

namespace arioso::eval {

struct Likelihood {
  std::string file;
  std::int64_t tokens = 0;     ///< scored tokens (the first of a piece has no prediction)
  std::int64_t correct = 0;    ///< argmax equal to the token
  double nll_sum = 0;          ///< nats
  std::int64_t notes = 0;      ///< notes of the decoded piece
  double beats = 0, seconds = 0;
  std::array<double, music::kTokenKinds> kind_nll{};        ///< nats per kind
  std::array<std::int64_t, music::kTokenKinds> kind_tokens{};
  /// The drums' share: Drum tokens and the Velocity that follows one, and the drum notes; the
  /// rest is the pitched parts' (with all timing and structure), so that a model with drums
  /// compares with one without on the pitched notes.
  double drum_nll = 0;
  std::int64_t drum_tokens = 0, drum_notes = 0;
  /// Adds one scored token of `kind`.
  void add(music::TokenKind kind, double nll, bool right);
  void merge(const Likelihood& other);
  /// The `evaluate --json` row: file, tokens, nll_sum, nll_per_token, perplexity, accuracy,
  /// notes, beats, seconds, nll_per_note, nll_per_beat, nll_per_second, by_kind.{kind}.{tokens,
  /// nll_sum, nll_per_token, nll_per_note}, pitched.{notes, nll_sum, nll_per_note} and, with
  /// drums, drums.{notes, tokens, nll_sum, nll_per_note}.
  nlohmann::json to_json() const;
};

/// A piece's likelihood from the NLL of its tokens 1..n-1 (`token_nll[i]` for token i + 1),
/// with the argmax hits in `right`, the kinds of the vocabulary's ids and which ids are drum
/// hits (empty: none).
Likelihood piece_likelihood(const std::string& file, const std::vector<std::uint16_t>& ids, const std::vector<float>& token_nll,
                            const std::vector<bool>& right, const std::vector<music::TokenKind>& kinds, const music::Score& decoded,
                            const std::vector<bool>& drum_ids = {});

}  // namespace arioso::eval
