// The REMI tokenizer (default): Bar, Position_k (12 per quarter note), Pitch_p (21-108),
// Velocity_v (16 bins), Duration_d (40 lengths up to 4 bars of 4/4), Tempo_t (when it changes),
// TimeSig_n/d (when it changes). A bijection on its grid: decode(encode(s)) == quantize(s),
// and each sequence is the only encoding of its music. Multi-instrument detail (program,
// channel) is not encoded: parts are merged before tokenizing.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "music/score.h"

namespace arioso::music {

struct RemiSettings {
  static constexpr int kGrid = 12;     ///< positions per quarter note (sixteenths and triplets exact)
  static constexpr int kMinPitch = 21; ///< A0, lowest piano key
  static constexpr int kMaxPitch = 108;///< C8, highest piano key
  static constexpr int kVelocityBins = 16;
  static constexpr int kMaxBarGrid = 96;  ///< longest bar: 8 quarter notes (8/4, 4/2, 16/8)
};

/// Token text of the vocabulary, in id order (Bar, TimeSig_*, Position_*, Tempo_*, Pitch_*,
/// Velocity_*, Duration_*). Same for every piece: the vocabulary is fixed by the settings.
const std::vector<std::string>& remi_vocabulary();
/// Durations in grid units (twelfths of a quarter), ascending.
const std::vector<int>& remi_durations();
/// Tempo bins in BPM, ascending.
const std::vector<int>& remi_tempos();
/// Time signatures the vocabulary holds, as (numerator, denominator).
const std::vector<std::pair<int, int>>& remi_time_signatures();

/// The score as REMI holds it, at 480 ticks per quarter: onsets on the grid, durations snapped
/// to remi_durations() (ties to the shorter), velocities binned, pitches outside 21..108
/// dropped, one note per (onset, pitch) (the longest, then the loudest), a note cut to the
/// longest duration that ends by its pitch's next onset (so a MIDI file holds it), tempo and time
/// signatures binned and placed as the encoding places them.
Score remi_quantize(const Score& score);

/// Tokens of a score (its notes as given: select parts first).
std::vector<std::string> remi_encode(const Score& score);
/// Music of a token sequence at 480 ticks per quarter; throws Error naming the first token
/// index that breaks the grammar.
Score remi_decode(const std::vector<std::string>& tokens);
/// Shifts every Pitch token by `semitones`; nullopt if any pitch would leave 21..108.
std::optional<std::vector<int>> remi_transpose(const std::vector<int>& ids, int semitones);

// --- Grammar, for constrained sampling: which token kinds may follow.
enum class RemiKind { kBar, kTimeSig, kPosition, kTempo, kPitch, kVelocity, kDuration };
/// Kind and value of a vocabulary id (value: position, pitch, bin index, duration index...).
RemiKind remi_kind(int id);
int remi_value(int id);
/// First id of each kind (ids of a kind are contiguous and ascending in value).
int remi_first_id(RemiKind kind);
int remi_count(RemiKind kind);

/// Incremental grammar state: feed tokens one at a time, ask which ids are allowed next.
class RemiGrammar {
 public:
  /// Marks in `allowed` (size V) the ids that may follow the tokens fed so far.
  void allowed(std::vector<bool>& allowed) const;
  /// Feeds one token; returns false (and changes nothing) if it breaks the grammar.
  bool feed(int id);
  int bar_length() const { return bar_len_; }   ///< grid units in the current bar
  int position() const { return pos_; }         ///< current position in the bar, -1 before the first
  int bars() const { return bars_; }            ///< Bar tokens seen

 private:
  enum class State { kStart, kAfterBar, kAfterTimeSig, kAfterPosition, kAfterTempo, kAfterPitch, kAfterVelocity, kAfterDuration };
  State state_ = State::kStart;
  int bar_len_ = 48;
  int ts_index_ = -1;   // current time signature (index), -1 none yet
  int tempo_index_ = -1;
  int pos_ = -1;
  int last_pitch_ = -1;
  int bars_ = 0;
};

}  // namespace arioso::music
