// Key estimation from the notes themselves (not from key-signature events, which many files
// lack or get wrong): the Krumhansl-Kessler probe-tone profiles correlated with the
// duration-weighted pitch-class histogram, the best of 24 keys (Krumhansl 1990, ch. 4), for a
// whole piece and per section of a few bars, to follow modulations. Drums are ignored.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "music/score.h"

namespace arioso::music {

struct Key {
  int tonic = 0;             ///< pitch class 0..11 (C = 0)
  bool minor = false;
  double correlation = 0;    ///< Pearson r with the key's profile (-1..1); 0 when there are no notes
  bool operator==(const Key& o) const { return tonic == o.tonic && minor == o.minor; }
  bool operator!=(const Key& o) const { return !(*this == o); }
  /// "A:minor", as `generate --key` takes it.
  std::string name() const;
};

/// Bar lines of a score from 0 to its last note end (its time signatures; 4/4 before the first).
std::vector<std::uint64_t> bar_starts(const Score& score);

/// Duration-weighted pitch-class histogram (in beats) of non-drum notes within [from, to) ticks.
std::array<double, 12> pitch_class_weights(const Score& score, std::uint64_t from = 0, std::uint64_t to = UINT64_MAX);
/// The key whose profile correlates best with `weights`; ties go to major, then the lower tonic.
Key estimate_key(const std::array<double, 12>& weights);
/// The key of a whole piece.
Key estimate_key(const Score& score);

struct KeySection {
  int first_bar = 0, last_bar = 0;   ///< 0-based, inclusive
  std::uint64_t start_tick = 0, end_tick = 0;
  Key key;
};
/// Keys of consecutive windows of `bars_per_window` bars (windows without notes take the
/// previous key), adjacent windows of one key merged: the piece's modulations.
std::vector<KeySection> key_sections(const Score& score, int bars_per_window = 4);
/// Keys of each window, unmerged (empty windows omitted), for stability measures.
std::vector<Key> window_keys(const Score& score, int bars_per_window = 4);

}  // namespace arioso::music
