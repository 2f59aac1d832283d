// Small made-up tunes for tests that need MIDI files to learn from: eighth notes walking the
// octave above middle C by `step` semitones, with an optional held bass note every bar; and a
// band of three parts (tune, bass, drums).
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

/// A band: the walking tune on `program`, a bass line (Electric Bass, program 33, channel 2)
/// on every beat, and drums on channel 10 (kick on beats 1 and 3, snare on 2 and 4, closed
/// hi-hat on every eighth).
inline music::Score band_tune(int step, int notes, int program = 0) {
  music::Score s = walking_tune(step, notes);
  for (auto& n : s.notes) n.program = program;
  for (int i = 0; i < notes; ++i) {
    const std::uint64_t t = static_cast<std::uint64_t>(i) * 240;
    auto add = [&](int pitch, int channel, int prog, std::uint64_t len, int velocity) {
      music::Note n;
      n.start_tick = t;
      n.end_tick = t + len;
      n.pitch = pitch;
      n.velocity = velocity;
      n.channel = channel;
      n.program = prog;
      s.notes.push_back(n);
    };
    if (i % 2 == 0) add(36 + (i * step) % 12, 1, 33, 480, 100);
    add(42, 9, 0, 60, 70);
    if (i % 4 == 0) add(36, 9, 0, 60, 110);
    if (i % 4 == 2) add(38, 9, 0, 60, 100);
  }
  return s;
}

/// The tune as Standard MIDI File bytes.
inline std::string walking_tune_midi(int step, int notes, bool bass = false, bool varied_velocity = false) {
  auto b = midi::write_midi(music::score_to_midi(walking_tune(step, notes, bass, varied_velocity)));
  return std::string(b.begin(), b.end());
}

inline std::string band_tune_midi(int step, int notes, int program = 0) {
  auto b = midi::write_midi(music::score_to_midi(band_tune(step, notes, program)));
  return std::string(b.begin(), b.end());
}

}  // namespace arioso::test
