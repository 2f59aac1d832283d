// How a model reads REMI's Pitch and Key tokens: as written (absolute), or relative to the key
// (docs/tokens.md, "The model's view of pitch"). A bar's Key token comes right after its Bar
// (and TimeSig), before any of its notes, so a reader going left to right always knows the key a
// Pitch is relative to. The view is a bijection on token sequences: the corpus, `arioso tokens`
// and every file keep the written tokens; only the ids a model reads and predicts change. A
// model then learns scale degrees, and that a key goes on, once for all twelve transpositions
// instead of having to work out the key of each transposed window from its notes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace arioso::music {

/// "absolute" or "key" (relative to the bar's key); throws ConfigError for another name.
bool pitch_view_is_key_relative(const std::string& name);

/// Maps REMI token ids between the tokens as written (score ids) and a model's view of them
/// (model ids), left to right. The state is the signature of the latest Key seen (a pitch
/// class: the key's major tonic, a minor key's relative major's, so A minor reads as C), 0
/// before any. In the key-relative view:
/// - Pitch p becomes Pitch p - c, c the signature moved into -5..+6 semitones, wrapped around
///   within REMI's pitch range (21..108) so that every id has exactly one image;
/// - a Key reads relative to the signature before it: its tonic less that signature, its mode as
///   it is (the first Key of a piece is as written; a bar that keeps the key of the bar before
///   reads Key_C:major, or Key_A:minor for its relative minor), so "the key goes on" is one
///   token whatever the key;
/// - every other token is itself.
/// The absolute view is the identity.
class PitchView {
 public:
  explicit PitchView(bool key_relative = false) : on_(key_relative) {}
  /// The view a model's config names ("absolute" or "key"); throws ConfigError for another.
  static PitchView named(const std::string& name) { return PitchView(pitch_view_is_key_relative(name)); }
  bool key_relative() const { return on_; }
  /// The model id of score id `id` under the keys seen so far; then `id` is seen.
  std::int64_t to_model(std::int64_t id);
  /// The score id of model id `id` under the keys seen so far; then it is seen.
  std::int64_t to_score(std::int64_t id);
  /// Without advancing: the model id that stands for score id `id` now, and the reverse.
  std::int64_t model_of(std::int64_t id) const;
  std::int64_t score_of(std::int64_t id) const;
  /// Reorders a row of next-token scores over the vocabulary from model ids to score ids under
  /// the current state (`scores[i]` becomes the score for score id i). No-op when absolute.
  void scores_to_score_ids(float* scores) const;
  /// Reads a Key (score id) without mapping anything: the state at a cut, the key in force there.
  void see(std::int64_t score_id);
  /// The semitones pitches are moved down by now (-5..+6).
  int shift() const;

 private:
  bool on_ = false;
  int signature_ = 0;
};

/// Maps a whole sequence of score ids to model ids in place (a fresh view, left to right).
template <typename Id>
void to_model_ids(std::vector<Id>& ids, PitchView view) {
  for (auto& id : ids) id = static_cast<Id>(view.to_model(id));
}

}  // namespace arioso::music
