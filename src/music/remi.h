// The REMI tokenizer (default): Bar, Position_k (12 per quarter note), Pitch_p (21-108),
// Velocity_v (16 bins), Duration_d (40 lengths up to 4 bars of 4/4), Tempo_t (when it changes),
// TimeSig_n/d (when it changes). A bijection on its grid: decode(encode(s)) == quantize(s),
// and each sequence is the only encoding of its music. Multi-instrument detail (program,
// channel) is not encoded: parts are merged before tokenizing.
// Two options (RemiOptions), both recorded with a corpus: `compact` states a note's Velocity
// and Duration only when they differ from the previous note's (a chord of equal notes is its
// Position and its Pitch tokens), and `keys` states the key of each bar (Key_C:major ...,
// estimated from the notes, music/key.h) after its Bar (and TimeSig), so that every window a
// model trains on carries its key and generation can be conditioned on one.
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

struct RemiOptions {
  bool compact = false;  ///< Velocity and Duration only when they change
  bool keys = false;     ///< a Key token in every bar
};

/// Token text of the vocabulary, in id order (Bar, TimeSig_*, Position_*, Tempo_*, Pitch_*,
/// Velocity_*, Duration_*, and with keys Key_*). Same for every piece: fixed by the settings.
/// Without keys it is the first 301 of the 325 (so older runs keep their ids).
std::vector<std::string> remi_vocabulary(const RemiOptions& options = {});
/// Durations in grid units (twelfths of a quarter), ascending.
const std::vector<int>& remi_durations();
/// Tempo bins in BPM, ascending.
const std::vector<int>& remi_tempos();

/// The score as REMI holds it, at 480 ticks per quarter: onsets on the grid, durations snapped
/// to remi_durations() (ties to the shorter), velocities binned, pitches outside 21..108
/// dropped, one note per (onset, pitch) (the longest, then the loudest), a note cut to the
/// longest duration that ends by its pitch's next onset (so a MIDI file holds it), tempo and time
/// signatures binned and placed as the encoding places them.
Score remi_quantize(const Score& score);

/// Tokens of a score (its notes as given: select parts first).
std::vector<std::string> remi_encode(const Score& score, const RemiOptions& options = {});
/// Music of a token sequence at 480 ticks per quarter; throws Error naming the first token
/// index that breaks the grammar. Key tokens become key signatures where the key changes.
Score remi_decode(const std::vector<std::string>& tokens, const RemiOptions& options = {});
/// Shifts every Pitch token and every Key's tonic by `semitones`; nullopt if any pitch would
/// leave 21..108.
std::optional<std::vector<int>> remi_transpose(const std::vector<int>& ids, int semitones);
/// The key of a bar as the encoder states it: sections of 8 bars (music/key.h), any shorter than
/// 16 bars merged into its neighbour; one key per bar of the quantized score.
std::vector<int> remi_bar_keys(const Score& quantized);
/// Key token index (tonic + 12 x minor) of a key.
inline int remi_key_index(int tonic, bool minor) { return tonic + (minor ? 12 : 0); }

// --- Grammar, for constrained sampling: which token kinds may follow.
enum class RemiKind { kBar, kTimeSig, kPosition, kTempo, kPitch, kVelocity, kDuration, kKey };
/// Kind and value of a vocabulary id (value: position, pitch, bin index, duration index...).
RemiKind remi_kind(int id);
int remi_value(int id);
/// First id of each kind (ids of a kind are contiguous and ascending in value).
int remi_first_id(RemiKind kind);
int remi_count(RemiKind kind);

/// Incremental grammar state: feed tokens one at a time, ask which ids are allowed next.
class RemiGrammar {
 public:
  explicit RemiGrammar(const RemiOptions& options = {}) : opt_(options) {}
  /// Marks in `allowed` (size V) the ids that may follow the tokens fed so far.
  void allowed(std::vector<bool>& allowed) const;
  /// Feeds one token; returns false (and changes nothing) if it breaks the grammar.
  bool feed(int id);
  int bar_length() const { return bar_len_; }   ///< grid units in the current bar
  int position() const { return pos_; }         ///< current position in the bar, -1 before the first
  int bars() const { return bars_; }            ///< Bar tokens seen
  int key() const { return key_index_; }        ///< key of the current bar (remi_key_index), -1 none
  /// Whether the next token must be a Key (a bar's key comes right after its Bar and TimeSig).
  bool expects_key() const;

 private:
  enum class State { kStart, kAfterBar, kAfterTimeSig, kAfterKey, kAfterPosition, kAfterTempo, kAfterPitch, kAfterVelocity, kAfterDuration };
  void allow_note_end(std::vector<bool>& a) const;
  RemiOptions opt_;
  State state_ = State::kStart;
  int key_index_ = -1;
  int velocity_ = -1, duration_ = -1;  // the last note's (compact: stated only on change)
  int bar_len_ = 48;
  int ts_index_ = -1;   // current time signature (index), -1 none yet
  int tempo_index_ = -1;
  int pos_ = -1;
  int last_pitch_ = -1;
  int bars_ = 0;
};

}  // namespace arioso::music
