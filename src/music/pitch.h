// Pitch spelling as music21 5.x writes it (C C# D E- E F F# G G# A B- B, octave 4 = middle C).
#pragma once
#include <optional>
#include <string>

namespace arioso::music {

/// `pitch_name(60)` is "C4", 63 is "E-4", 58 is "B-3" (music21 spelling: '-' is flat).
std::string pitch_name(int midi_pitch);
/// Inverse of pitch_name; also accepts 'b' for flat and any octave -1..9. nullopt if not a pitch.
std::optional<int> parse_pitch_name(const std::string& name);

}  // namespace arioso::music
