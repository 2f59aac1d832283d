// Fill in the middle (docs/tokens.md, "Infilling"): bars of some or all parts of a piece,
// composed with the music before and after them as context. A model reads the arrangement
//   context:  the bars around the span in REMI, the span's notes left out, a Hole token after
//             the opening of each bar of the span; then Fill
//   middle:   the span's notes as a REMI piece of their own (every bar of the span, with the
//             piece's meters and keys, its own header naming the instruments it fills), then
//             FillEnd; a span without notes is FillEnd alone
// left to right, so one model both continues and fills (as code models do, Bavarian et al.
// 2022). Training arranges a share of its windows so (remi_fill_example); `arioso infill` and
// `arioso accompany` arrange the user's song and sample the middle.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "music/remi.h"
#include "music/score.h"

namespace arioso::music {

/// What is filled: bars [first_bar, end_bar) of the piece (0-based), of the instruments named.
struct FillSpan {
  int first_bar = 0, end_bar = 0;
  std::vector<bool> instruments;  ///< kDrums + 1 flags (programs, drums); empty: every part
  bool absent = false;            ///< the filled instruments play nowhere in the context (a part being added)
  /// Whether `n` belongs to the instruments filled (whatever its time).
  bool fills_instrument(const Note& n) const;
};

struct FillArrangement {
  std::vector<std::string> context;  ///< ends with "Fill"
  std::vector<std::string> middle;   ///< ends with "FillEnd"
  int from_bar = 0, to_bar = 0;      ///< the bars the context covers
};

/// Start ticks of bars 0..n-1 of a quantized score (remi_quantize) as the encoder lays them out,
/// n = max(its bars through the last onset, min_bars), and the end of the last as element n.
std::vector<std::uint64_t> remi_bar_ticks(const Score& quantized, int min_bars = 0);

/// Bars [from_bar, to_bar) of a quantized score with its notes that start there, shifted to
/// start at 0, with the meter and tempo in effect there. `keep` picks the notes.
Score remi_bars(const Score& quantized, const std::vector<std::uint64_t>& bar_ticks, int from_bar, int to_bar,
                const std::function<bool(const Note&)>& keep);

/// The arrangement of `span` with bars [from_bar, to_bar) as its context (which holds the span);
/// `bar_keys` (remi_bar_keys of the whole piece) gives every bar its Key, as the piece's own
/// encoding does. Throws Error for a span outside the context.
FillArrangement remi_fill_arrange(const Score& quantized, const std::vector<int>& bar_keys, int from_bar, int to_bar,
                                  const FillSpan& span, const RemiOptions& options);

/// Tokens per bar of a piece's plain encoding (ids), the header counted in bar 0.
std::vector<int> remi_tokens_per_bar(const std::vector<std::uint16_t>& ids);

/// The bars a context may cover around `span`: as many before and after it as fit in `budget`
/// tokens by `tokens_per_bar`, `before_share` of them before (what is left over goes to the
/// other side).
std::pair<int, int> remi_fill_region(const std::vector<int>& tokens_per_bar, const FillSpan& span, int budget, double before_share);

/// A training example: a span of 1-4 bars at a random place of the piece, of every part (half
/// of the examples), of a random subset of its instruments that also play in the context (a
/// quarter), or of a subset that plays nowhere else (a quarter: a part added), in a context
/// region of at most about `max_tokens` with the whole arrangement. Deterministic in `rng`.
FillArrangement remi_fill_example(const Score& quantized, const std::vector<int>& bar_keys, const std::vector<int>& tokens_per_bar,
                                  std::mt19937_64& rng, int max_tokens, const RemiOptions& options);

/// The notes a middle's tokens (without FillEnd) stand for, at their place in the piece (its
/// bars `bar_ticks`, the span's first bar); throws Error naming a bad token.
std::vector<Note> remi_fill_notes(const std::vector<std::string>& middle, const std::vector<std::uint64_t>& bar_ticks,
                                  const FillSpan& span, const RemiOptions& options);

}  // namespace arioso::music
