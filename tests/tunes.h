// Small made-up tunes for tests that need MIDI files to learn from: eighth notes walking the
// octave above middle C by `step` semitones, with an optional held bass note every bar.
#pragma once
#include <string>

#include "midi/midi_file.h"
#include "music/score.h"

namespace arioso::test {

inline music::Score walking_tune(int step, int notes, bool bass = false, bool varied_velocity = false) {
  music::Score s;
  s.ticks_per_quarter = 480;
  s.tempos = {{0, 500000}};
  for (int i = 0; i < notes; ++i) {
    music::Note n;
    n.start_tick = static_cast<std::uint64_t>(i) * 240;
    n.end_tick = n.start_tick + 240;
    n.pitch = static_cast<std::uint8_t>(60 + (i * step) % 12);
    n.velocity = static_cast<std::uint8_t>(varied_velocity ? 70 + (i % 3) * 10 : 90);
    s.notes.push_back(n);
    if (bass && i % 4 == 0) {
      n.pitch = static_cast<std::uint8_t>(n.pitch - 12);
      n.end_tick = n.start_tick + 960;
      s.notes.push_back(n);
    }
  }
  return s;
}

/// The tune as Standard MIDI File bytes.
inline std::string walking_tune_midi(int step, int notes, bool bass = false, bool varied_velocity = false) {
  auto b = midi::write_midi(music::score_to_midi(walking_tune(step, notes, bass, varied_velocity)));
  return std::string(b.begin(), b.end());
}

}  // namespace arioso::test
