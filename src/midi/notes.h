// Notes and timing derived from a MidiFile: note-on/off pairing, program and drum state,
// the tempo map (tick -> seconds), time and key signatures. Pure functions of the events.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "midi/midi_file.h"

namespace arioso::midi {

/// A sounding note: [start_tick, end_tick) on one channel of one track.
struct Note {
  std::uint64_t start_tick = 0;
  std::uint64_t end_tick = 0;
  int pitch = 0;     ///< MIDI key 0..127
  int velocity = 0;  ///< 1..127
  int channel = 0;   ///< 0..15 (9 is General MIDI drums)
  int program = 0;   ///< General MIDI program 0..127 in effect on the channel at the note-on
  int track = 0;     ///< index of the track in the file
  bool drum() const { return channel == 9; }
  bool operator==(const Note& o) const {
    return start_tick == o.start_tick && end_tick == o.end_tick && pitch == o.pitch && velocity == o.velocity &&
           channel == o.channel && program == o.program && track == o.track;
  }
};

/// Counts of the pairing rules' special cases, for reports.
struct NoteStats {
  std::size_t zero_length = 0;    ///< notes whose note-off is at the note-on's tick (kept)
  std::size_t unterminated = 0;   ///< notes still sounding at the end of their track (ended there)
  std::size_t orphan_offs = 0;    ///< note-offs with no sounding note (ignored)
};

/// Pairs note-ons with note-offs and returns notes sorted by (start_tick, track, pitch, channel).
/// Rules: a note-on with velocity 0 is a note-off; pairing is per (track, channel, pitch),
/// first in first out; a note still sounding at the end of its track ends at the track's last
/// tick; zero-length notes are kept. The program of a note is the last program change on its
/// channel at or before its tick, over all tracks (MIDI channel state is shared by the tracks
/// of a format 0/1 file; format 2 tracks are independent and use their own).
std::vector<Note> extract_notes(const MidiFile& file, NoteStats* stats = nullptr);

struct TempoChange {
  std::uint64_t tick = 0;
  std::uint32_t us_per_quarter = 500000;
};
struct TimeSignature {
  std::uint64_t tick = 0;
  int numerator = 4;
  int denominator = 4;
};
struct KeySignature {
  std::uint64_t tick = 0;
  int sharps = 0;      ///< -7 (7 flats) .. 7 (7 sharps)
  bool minor = false;
};

/// Tick -> seconds over all tempo changes (SMF 1.0: default 120 BPM until the first one).
class TempoMap {
 public:
  TempoMap() = default;
  /// Collects tempo events from every track; at one tick the last one (in track order) wins.
  explicit TempoMap(const MidiFile& file);
  TempoMap(std::vector<TempoChange> changes, int ticks_per_quarter);
  double seconds(std::uint64_t tick) const;  ///< time of `tick` in seconds
  std::uint64_t tick_at(double seconds) const; ///< inverse of seconds(), rounded down
  const std::vector<TempoChange>& changes() const { return changes_; }

 private:
  std::vector<TempoChange> changes_;  // sorted, first at tick 0
  std::vector<double> start_sec_;     // seconds at each change
  double sec_per_tick_smpte_ = 0;     // > 0 for SMPTE division: fixed rate
  int tpq_ = 480;
};

/// Time signatures of all tracks by tick (invalid ones skipped; 4/4 is implied before the first).
std::vector<TimeSignature> time_signatures(const MidiFile& file);
/// Key signatures of all tracks by tick (invalid ones skipped; a mode out of range reads as major).
std::vector<KeySignature> key_signatures(const MidiFile& file);
/// Last tick of any event in the file.
std::uint64_t length_ticks(const MidiFile& file);
/// Text of the first track-name meta event of a track, or "".
std::string track_name(const Track& track);

}  // namespace arioso::midi
