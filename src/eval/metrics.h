// Music metrics with MusPy's definitions (muspy/metrics/metrics.py, v0.5), quirks included:
// drums are excluded where MusPy excludes them, NaN where MusPy returns NaN. Plus notes per
// beat and the number of distinct inter-onset intervals. Non-neural; no libtorch.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "music/score.h"

namespace arioso::eval {

/// Metric name -> value (NaN where undefined), in a fixed order of names (metric_names()).
using Metrics = std::map<std::string, double>;

/// The names analyze reports, in report order.
const std::vector<std::string>& metric_names();

/// All metrics of one score. Time steps are the score's ticks; measures follow its first time
/// signature (MusPy assumes a constant one).
Metrics compute_metrics(const music::Score& score);

// The single metrics (MusPy names).
int pitch_range(const music::Score& s);
int n_pitches_used(const music::Score& s);
int n_pitch_classes_used(const music::Score& s);
double polyphony(const music::Score& s);
double polyphony_rate(const music::Score& s, int threshold = 2);
double pitch_in_scale_rate(const music::Score& s, int root, bool minor);
double scale_consistency(const music::Score& s);
double pitch_entropy(const music::Score& s);
double pitch_class_entropy(const music::Score& s);
double empty_beat_rate(const music::Score& s);
double empty_measure_rate(const music::Score& s, std::int64_t measure_ticks);
double groove_consistency(const music::Score& s, std::int64_t measure_ticks);
/// Non-drum notes per beat of the piece's length (NaN for an empty piece).
double notes_per_beat(const music::Score& s);
/// Distinct gaps between consecutive onsets (non-drum), on the 12-per-quarter grid.
int distinct_ioi(const music::Score& s);
/// Inter-onset intervals in quarter notes (non-drum), for histograms.
std::vector<double> inter_onset_intervals(const music::Score& s);
/// Ticks per measure of the score's first time signature (4/4 if none).
std::int64_t measure_ticks(const music::Score& s);

/// Overlapping area of two distributions (Yang & Lerch 2018): Gaussian kernel densities of the
/// intra-set distances of `a` and of the inter-set distances between `a` and `b`, bandwidth by
/// Silverman's rule of thumb (0.9 min(sd, IQR/1.34) n^-1/5), area of min(f, g) by the trapezoid
/// rule. NaN when either set has fewer than two values.
double overlapping_area(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace arioso::eval
