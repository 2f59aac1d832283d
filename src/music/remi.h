// The REMI tokenizer (default): Bar, Position_k (12 per quarter note), Pitch_p (21-108),
// Velocity_v (16 bins), Duration_d (40 lengths up to 4 bars of 4/4), Tempo_t (when it changes),
// TimeSig_n/d (when it changes). A bijection on its grid: decode(encode(s)) == quantize(s),
// and each sequence is the only encoding of its music (the grammar also accepts a header that
// names an instrument no note plays, which decodes to the same music as the header without it).
// Without `instruments` the parts are merged (program and channel are not encoded).
// Three options (RemiOptions), recorded with a corpus: `compact` states a note's Velocity
// and Duration only when they differ from the previous note's of its instrument (a chord of
// equal notes is its Position and its Pitch tokens); `keys` states the key of each bar
// (Key_C:major ..., estimated from the pitched notes, music/key.h) after its Bar (and TimeSig),
// so that every window a model trains on carries its key and generation can be conditioned on
// one; `instruments` keeps each note's instrument (docs/tokens.md, "Instruments"):
//   - the first bar's opening is followed by the header: the piece's instruments, ascending
//     (Program_p for each pitched program, Program_Drums if it has drums); no other
//     instrument plays in the piece, so a model chooses its instrumentation first and
//     `generate --instruments` conditions on it;
//   - a pitched note's General MIDI program is stated by Program_p before the first note of
//     that program in each bar and wherever the program changes; notes of one onset come in
//     order of (program, pitch), drums last;
//   - a drum hit is one token, Drum_k (General MIDI percussion keys 27-87), then its Velocity
//     where it changes (compact); it has no Duration: on the grid a hit lasts a quarter note or
//     until the same drum is struck again, so a file holds it;
//   - a part is its instrument: notes of one program on any tracks and channels are one part,
//     and a piece keeps its 15 pitched programs with the most notes (MIDI has 15 channels
//     beside the drums); decoded parts get channels 0-8, 10-15 in order of first note.
// A fourth option, `repeats` (with instruments and infill: it needs their ids before its own),
// lets a bar say that it is an earlier bar again: Repeat_k (k = 1..32) right after the bar's
// opening stands for the body of the bar k bars back (its tokens from its first Position on,
// as written out), and the bar ends there. The encoder uses it wherever a bar's body equals
// one of the 32 before it (the nearest such), so the sequence stays the only encoding of its
// music: RemiGrammar refuses a bar written out that a Repeat could state, and a Repeat of a
// bar whose body is not valid in the bar's state (compact values). Motifs, riffs and sections
// that come again cost a model one step, and it can learn where music repeats (docs/tokens.md).
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
  static constexpr int kMinDrum = 27;  ///< General MIDI level 2 percussion: High Q
  static constexpr int kMaxDrum = 87;  ///< Open Surdo
  static constexpr int kDrums = 128;   ///< the instrument number of drums (programs are 0-127)
  static constexpr int kMaxPitchedParts = 15;  ///< MIDI channels beside channel 10
  static constexpr int kDrumGrid = 12; ///< a drum hit's length on the grid (a quarter note)
  static constexpr int kVelocityBins = 16;
  static constexpr int kMaxBarGrid = 96;  ///< longest bar: 8 quarter notes (8/4, 4/2, 16/8)
  static constexpr int kMaxRepeat = 32;   ///< Repeat_k reaches this many bars back
};

struct RemiOptions {
  bool compact = false;      ///< Velocity and Duration only when they change
  bool keys = false;         ///< a Key token in every bar
  bool instruments = false;  ///< Program and Drum tokens: every note keeps its instrument
  bool infill = false;       ///< the fill-in-the-middle markers Hole, Fill, FillEnd (music/infill.h)
  bool repeats = false;      ///< Repeat_k: a bar that is the bar k back again (needs instruments and infill)
};

/// The same options with every bar written out (no Repeat): what infilling arranges, as its
/// context has bars left out that a Repeat could point at.
inline RemiOptions written_out(RemiOptions o) {
  o.repeats = false;
  return o;
}

/// The sequence with every Repeat_k replaced by the body it stands for; throws Error naming the
/// token index of a Repeat that points before the first bar or at a bar with no body, or that
/// does not come right after a bar's opening.
std::vector<std::string> remi_expand_repeats(const std::vector<std::string>& tokens);
/// The inverse: each bar whose body equals one of the kMaxRepeat bodies before it (the nearest)
/// becomes its opening and Repeat_k. remi_expand_repeats(remi_collapse_repeats(t)) == t.
std::vector<std::string> remi_collapse_repeats(const std::vector<std::string>& tokens);

/// What remi_encode may do besides encoding the notes (for infilling, music/infill.h).
struct RemiBars {
  int min_bars = 0;             ///< at least this many bars, empty ones after the last note too
  std::vector<int> keys;        ///< with keys: the Key of each bar (empty: estimated from the notes)
  std::vector<bool> holes;      ///< bars whose opening (and header) is followed by a Hole token
};

/// Token text of the vocabulary, in id order (Bar, TimeSig_*, Position_*, Tempo_*, Pitch_*,
/// Velocity_*, Duration_*, Key_*, Program_*, Drum_*, then Hole, Fill, FillEnd, then Repeat_1..32).
/// Same for every piece: fixed by the settings. Without repeats it ends after FillEnd (518),
/// without infill after the Drum tokens (515), without
/// instruments after the Key tokens (325), without keys and instruments after the Duration
/// tokens (301), so older runs keep their ids.
std::vector<std::string> remi_vocabulary(const RemiOptions& options = {});
/// Durations in grid units (twelfths of a quarter), ascending.
const std::vector<int>& remi_durations();
/// Tempo bins in BPM, ascending.
const std::vector<int>& remi_tempos();

/// The score as REMI holds it, at 480 ticks per quarter: onsets on the grid, durations snapped
/// to remi_durations() (ties to the shorter), velocities binned, pitches outside 21..108
/// dropped, one note per (onset, instrument, pitch) (the longest, then the loudest), drums and
/// programs as the options keep them (without instruments: none, every note program 0 on
/// channel 1; with: see above), a note cut to the
/// longest duration that ends by its pitch's next onset (so a MIDI file holds it), tempo and time
/// signatures binned and placed as the encoding places them.
Score remi_quantize(const Score& score, const RemiOptions& options = {});

/// A part as REMI with instruments sees it: every note of one instrument (a program, or drums
/// = kDrums), whatever its tracks and channels, and whether the encoding keeps it (a piece keeps
/// its kMaxPitchedParts pitched programs with the most notes; notes out of range are dropped).
struct RemiPart {
  int instrument = 0;
  std::size_t notes = 0;      ///< notes of the instrument in the score
  std::size_t kept = 0;       ///< of which the encoding keeps (in range, a kept program)
  std::vector<int> tracks, channels;
  int lowest = 127, highest = 0;
};
/// The parts of a score in order of instrument (programs, then drums).
std::vector<RemiPart> remi_parts(const Score& score);

/// Tokens of a score (its notes as given: select parts first).
std::vector<std::string> remi_encode(const Score& score, const RemiOptions& options = {});
/// The same with the bars laid out as `bars` asks (more bars, given keys, Hole markers).
std::vector<std::string> remi_encode(const Score& score, const RemiOptions& options, const RemiBars& bars);
/// Music of a token sequence at 480 ticks per quarter; throws Error naming the first token
/// index that breaks the grammar (with repeats: an index of the bars written out, or the Repeat's
/// own when it points at nothing). Key tokens become key signatures where the key changes.
Score remi_decode(const std::vector<std::string>& tokens, const RemiOptions& options = {});
/// Shifts every Pitch token and every Key's tonic by `semitones` (drums stay); nullopt if any
/// pitch would leave 21..108.
std::optional<std::vector<int>> remi_transpose(const std::vector<int>& ids, int semitones);
/// The key of a bar as the encoder states it: sections of 8 bars (music/key.h), any shorter than
/// 16 bars merged into its neighbour; one key per bar of the quantized score.
std::vector<int> remi_bar_keys(const Score& quantized);
/// Key token index (tonic + 12 x minor) of a key.
inline int remi_key_index(int tonic, bool minor) { return tonic + (minor ? 12 : 0); }

// --- Grammar, for constrained sampling: which token kinds may follow.
/// kFill: the infilling markers (value 0 Hole, 1 Fill, 2 FillEnd), which the grammar of a piece
/// never allows (they frame pieces: music/infill.h).
/// kRepeat: Repeat_k (value k), a bar that is the bar k back again.
enum class RemiKind { kBar, kTimeSig, kPosition, kTempo, kPitch, kVelocity, kDuration, kKey, kProgram, kDrum, kFill, kRepeat };
constexpr int kRemiKinds = 12;
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
  /// Instrument of the note being stated or last stated in this bar: a program, kDrums, or -1.
  int instrument() const { return note_instrument_; }
  /// Whether the next tokens are the header (instruments: after the first bar's opening).
  bool in_header() const { return opt_.instruments && bars_ == 1 && !header_done_ && (state_ == State::kHeader || expects_header_now()); }
  /// The header's last instrument so far (-1 none), and whether it declared `instrument`.
  int header_last() const { return header_last_; }
  bool declared(int instrument) const { return declared_[static_cast<std::size_t>(instrument)]; }
  /// Whether the next token must be a Key (a bar's key comes right after its Bar and TimeSig).
  bool expects_key() const;
  /// Whether the bar's opening is complete (TimeSig, and Key with keys) so a header may begin.
  bool expects_header_now() const { return opt_.keys ? state_ == State::kAfterKey : state_ == State::kAfterTimeSig; }
  /// The body (ids as written out) that Repeat_k would state now; empty if none (k out of
  /// 1..kMaxRepeat, before the first bar, or a bar without notes).
  const std::vector<int>& repeat_body(int k) const;

 private:
  enum class State { kStart, kAfterBar, kAfterTimeSig, kAfterKey, kHeader, kAfterPosition, kAfterTempo, kAfterProgram, kAfterPitch, kAfterDrum, kAfterVelocity, kAfterDuration, kAfterRepeat };
  void allowed_written(std::vector<bool>& a) const;
  bool feed_repeat(int k);
  void apply(int id);  // a token allowed_written() allows
  void allow_repeats(std::vector<bool>& a) const;
  bool could_repeat() const;
  void allow_note_end(std::vector<bool>& a) const;
  void allow_header(std::vector<bool>& a) const;
  void allow_programs(std::vector<bool>& a, int from, int except) const;
  void allow_drums(std::vector<bool>& a, int from) const;
  void allow_notes_at_onset(std::vector<bool>& a) const;
  void allow_kind(std::vector<bool>& a, RemiKind kind, int except = -1, int from = 0) const;
  RemiOptions opt_;
  State state_ = State::kStart;
  int key_index_ = -1;
  // The last note's velocity bin and duration index per instrument (compact: stated on change).
  std::vector<int> velocity_ = std::vector<int>(RemiSettings::kDrums + 1, -1);
  std::vector<int> duration_ = std::vector<int>(RemiSettings::kDrums + 1, -1);
  int program_ = -1;          // pitched program in effect in this bar (instruments), -1 none yet
  int note_instrument_ = -1;  // instrument of the current note
  int onset_instrument_ = -1; // instrument of the last note at this position, -1 none yet
  std::vector<bool> declared_ = std::vector<bool>(RemiSettings::kDrums + 1, false);  // the header's instruments
  int header_last_ = -1;      // the header's last instrument, -1 none yet
  bool header_done_ = false;  // the first Position ends the header
  int last_drum_ = -1;
  int bar_len_ = 48;
  int ts_index_ = -1;   // current time signature (index), -1 none yet
  int tempo_index_ = -1;
  int pos_ = -1;
  int last_pitch_ = -1;
  int bars_ = 0;
  // With repeats: the bodies of the last kMaxRepeat bars (oldest first) and the current one's.
  std::vector<std::vector<int>> bodies_;
  std::vector<int> body_;
};

}  // namespace arioso::music
