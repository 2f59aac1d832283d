// Working with the user's own music: fill bars of a song (`arioso infill`) or add parts to it
// (`arioso accompany`), with the music before and after as context (the fill-in-the-middle
// arrangement of music/infill.h, which training gives a share of its windows). The song's own
// notes are never resampled: they come back exactly as they were read; only the new material is
// sampled, under the originality gate, and fitted at its seams (docs/infill.md).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "eval/originality.h"
#include "music/instruments.h"
#include "music/score.h"

namespace arioso::generate {

struct InfillOptions {
  int first_bar = 0, end_bar = 0;  ///< bars [first_bar, end_bar) of the song, 0-based (accompany: all)
  /// The parts regenerated (infill; unset: every part of the song) or added (accompany).
  std::optional<music::InstrumentSet> instruments;
  bool add = false;                ///< accompany: every note of the song stays; the instruments are new parts
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 0.95;
  bool greedy = false;
  std::uint64_t seed = 1;
  int max_copy = 16;               ///< longest run of onsets of new material found in one training piece (0 = no gate)
  int chunk_bars = 0;              ///< bars filled per step (0: by the run's window, 1-4)
  bool score = false;              ///< also score the new and the original middles (InfillResult::nll_*)
};

struct InfillResult {
  music::Score score;                  ///< the song with the new material, at the song's ticks per quarter
  std::vector<music::Note> added;      ///< the new notes, as in `score`
  std::size_t kept = 0;                ///< notes of the song kept as they were
  std::size_t replaced = 0;            ///< notes of the song the new material replaced
  std::vector<int> instruments;        ///< the instruments filled or added (programs, 128 drums)
  int first_bar = 0, end_bar = 0;
  std::uint64_t start_tick = 0, end_tick = 0;  ///< where the new material lies in the song
  int chunks = 0, retries = 0;         ///< steps of up to chunk_bars bars; resampled for the gate
  std::size_t dropped_at_seams = 0;    ///< new notes left out because a kept note of their pitch sounded
  eval::CopyReport copy;               ///< longest copy of the new material's onsets
  std::string copy_source;
  /// With `score`: NLL (nats) of each step's new middle and of the song's own bars there, given
  /// the same context, and their notes: the bench's measure of how well new material fits.
  double nll_new = 0, nll_original = 0;
  std::size_t notes_new = 0, notes_original = 0;
};

/// New notes (`added`) that sound past `end_tick`, and pairs of notes of one channel and pitch
/// that sound at once (which MIDI cannot hold) where one of them is new: the seams' two faults.
struct SeamReport {
  std::size_t hanging = 0, doubled = 0;
};
SeamReport check_seams(const std::vector<music::Note>& added, const std::vector<music::Note>& all, std::uint64_t end_tick);

/// How new material sits among the bars around it (up to 4 before and 4 after the span, the
/// song's notes there), beside the song's own bars it replaced: notes per bar, and the share of
/// pitched note time in the scale of the key the bars around it have (music/key.h).
struct FillMeasures {
  double notes_per_bar_new = 0, notes_per_bar_original = 0, notes_per_bar_around = 0;
  double in_key_new = 0, in_key_original = 0, in_key_around = 0;
  std::string key_around;
};
FillMeasures measure_fill(const music::Score& song, const InfillResult& result);

/// Parses "9-16" or "9" (1-based, inclusive) into [first, end) 0-based; throws ConfigError.
std::pair<int, int> parse_bars(const std::string& text);

}  // namespace arioso::generate
