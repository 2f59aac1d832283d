// Score: the notes of a MIDI file with their tempo map, meters and keys, and the choice of
// which parts (track x channel x program) to learn from. Built from midi::MidiFile; written
// back as a format 1 file. No tokens here (see classic.h, remi.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "midi/midi_file.h"
#include "midi/notes.h"

namespace arioso::music {

using midi::KeySignature;
using midi::Note;
using midi::TempoChange;
using midi::TimeSignature;

/// An exact number of beats (quarter notes): num / den, den > 0, in lowest terms.
struct Beats {
  std::int64_t num = 0;
  std::int64_t den = 1;
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
  bool operator==(const Beats& o) const { return num == o.num && den == o.den; }
};
/// `ticks` / `ticks_per_quarter` in lowest terms.
Beats ticks_to_beats(std::int64_t ticks, int ticks_per_quarter);

/// Positions per quarter note of arioso's rhythm grid (sixteenths and triplets exact).
constexpr int kGridPerQuarter = 12;
/// Nearest grid point of a tick (exact halves round up).
inline std::int64_t tick_to_grid(std::uint64_t tick, int ticks_per_quarter) {
  const auto tpq = static_cast<std::uint64_t>(ticks_per_quarter);
  return static_cast<std::int64_t>((2 * tick * kGridPerQuarter + tpq) / (2 * tpq));
}

struct Score {
  int ticks_per_quarter = 480;
  std::vector<Note> notes;                 ///< sorted by (start_tick, pitch)
  std::vector<TempoChange> tempos;         ///< sorted; empty = 120 BPM
  std::vector<TimeSignature> time_signatures;  ///< sorted; empty = 4/4
  std::vector<KeySignature> key_signatures;
  Beats onset_beats(const Note& n) const { return ticks_to_beats(static_cast<std::int64_t>(n.start_tick), ticks_per_quarter); }
  Beats duration_beats(const Note& n) const {
    return ticks_to_beats(static_cast<std::int64_t>(n.end_tick - n.start_tick), ticks_per_quarter);
  }
  std::uint64_t end_tick() const;          ///< latest note end (0 if no notes)
  /// Ticks of the bar in effect at `tick` (its time signature, 4/4 before the first).
  std::uint64_t bar_ticks_at(std::uint64_t tick) const;
  double seconds(std::uint64_t tick) const;  ///< through the tempo map
};

/// A part: the notes of one (track, channel, program).
struct PartInfo {
  int track = 0;
  int channel = 0;
  int program = 0;
  bool drum = false;
  std::size_t notes = 0;
};

/// Score of a MIDI file. SMPTE files are converted to 120 BPM beats (a quarter = 0.5 s).
Score score_from_midi(const midi::MidiFile& file);
/// The parts of a score in order of first note (ties: track, channel, program).
std::vector<PartInfo> parts(const Score& score);

/// Which parts to learn from: `all` (every part, drums included: the default of the tokenizer
/// with instruments), `pitched` (all non-drum parts), `first` (the tutorial's parts[0]: the
/// notes of the first pitched part's program), `programs=0-7,40` (General MIDI programs, drums
/// excluded), `tracks=1,3` (track indices, drums excluded).
struct PartSelection {
  enum class Kind { kAll, kPitched, kFirst, kPrograms, kTracks } kind = Kind::kPitched;
  std::vector<bool> allowed;  ///< programs (128) or tracks, for kPrograms / kTracks
  std::string text = "pitched";
};
/// Parses the `--parts` value; throws ConfigError with the accepted forms.
PartSelection parse_part_selection(const std::string& text);
/// The score with only the selected parts' notes.
Score select_parts(const Score& score, const PartSelection& selection);

/// Format 1 file: track 0 holds tempo and time signatures, then one track per (channel,
/// program), named by its General MIDI instrument ("Drums" on channel 10), with a program
/// change; velocities kept.
midi::MidiFile score_to_midi(const Score& score);

}  // namespace arioso::music
