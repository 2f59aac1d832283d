// The tutorial's tokens (SEED.md): a note is its pitch name with octave ("E-4"), a chord its
// music21 normalOrder joined by dots ("0.4.7"); no durations, rests or spacing. Two readings:
// music21 5.x exactly (quirks included, ../shared/music21/README.md), or arioso's own.
#pragma once
#include <string>
#include <vector>

#include "midi/midi_file.h"
#include "music/score.h"

namespace arioso::music {

/// music21 5.x Chord.normalOrder of the pitch classes in `mask` (bit p = pitch class p).
std::vector<int> normal_order(unsigned mask);
/// A chord's token: its normal order joined by dots ("0.4.7").
std::string chord_token(const std::vector<int>& pitches);

/// music21 5.x's tokens of a file, as the tutorial got them (note pairing bug, chord
/// tolerance, (4,3) quantization, partitionByInstrument then parts[0], ordering).
std::vector<std::string> classic_tokens_music21(const midi::MidiFile& file);

/// The same vocabulary over arioso's reading: the score's notes (already part-selected,
/// correctly paired), grouped into chords with music21's rule and ordered by quantized onset.
std::vector<std::string> classic_tokens(const Score& score);

/// The tutorial's decoding: element i starts at i * 0.5 quarter notes, lasts one quarter;
/// a chord is its pitch classes in octave 4 (MIDI 60 + pc); program 0 (piano). Throws Error
/// naming the index of a token that is neither a pitch name nor a chord.
Score classic_decode(const std::vector<std::string>& tokens, int velocity = 100);


}  // namespace arioso::music
