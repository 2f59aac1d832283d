// Measures of how a piece holds together, from their definitions: bars that repeat an earlier
// bar (exactly, or transposed), dissonant simultaneities, how steady the key is, and the bar-by-
// bar self-similarity matrix of the Music Transformer paper's pictures. Drums are ignored.
#pragma once
#include <vector>

#include "music/score.h"

namespace arioso::eval {

/// Share of the bars with notes whose onsets (position in the bar on the 12-per-quarter grid,
/// pitch) equal those of an earlier bar; with `transposed`, equal after moving all its pitches
/// by one interval (0 included). NaN without bars with notes.
double repeated_bar_rate(const music::Score& score, bool transposed);
/// Of the pairs of notes sounding together at an onset (at least one of them starting there),
/// the share a minor second, tritone or major seventh apart, in any octave (interval classes 1
/// and 6). NaN without such pairs.
double dissonance_rate(const music::Score& score);
/// Of the pitched notes after which their part (instrument) strikes again, the share still
/// sounding at that next onset of their part (a line that overlaps itself; chords struck
/// together do not count). NaN without such notes.
double held_over_rate(const music::Score& score);
/// Share of 4-bar windows with notes whose estimated key is the whole piece's (music/key.h).
/// NaN without notes.
double key_stability(const music::Score& score);
/// (bars x bars) similarity: the Jaccard index of two bars' onset sets (as repeated_bar_rate's);
/// 1 on the diagonal of a bar with notes, 0 between two empty bars.
std::vector<std::vector<float>> bar_self_similarity(const music::Score& score);

}  // namespace arioso::eval
