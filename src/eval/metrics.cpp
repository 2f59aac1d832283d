// MusPy metrics; see metrics.h. Pianoroll metrics sweep note boundaries instead of building
// MusPy's (ticks x 128) matrix, with identical results (a pitch is "on" once however many
// notes of it overlap).
#include "eval/metrics.h"
#include "eval/structure.h"
#include "music/instruments.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace arioso::eval {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::uint64_t length_ticks(const music::Score& s) {
  std::uint64_t e = 0;
  for (const auto& n : s.notes) e = std::max(e, n.end_tick);
  return e;
}

/// Number of pitches on at each tick, as runs: (start, end, count), non-drum, over [0, length).
std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> pitch_counts(const music::Score& s) {
  // Union of intervals per pitch, then a sweep.
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> per(128);
  for (const auto& n : s.notes) {
    if (!n.drum() && n.end_tick > n.start_tick) per[static_cast<std::size_t>(n.pitch)].emplace_back(n.start_tick, n.end_tick);
  }
  std::vector<std::pair<std::uint64_t, int>> edges;
  for (auto& v : per) {
    std::sort(v.begin(), v.end());
    std::uint64_t a = 0, b = 0;
    bool open = false;
    for (auto& [x, y] : v) {
      if (open && x <= b) {
        b = std::max(b, y);
      } else {
        if (open) edges.emplace_back(a, 1), edges.emplace_back(b, -1);
        a = x;
        b = y;
        open = true;
      }
    }
    if (open) edges.emplace_back(a, 1), edges.emplace_back(b, -1);
  }
  std::sort(edges.begin(), edges.end());
  std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> runs;
  int count = 0;
  std::uint64_t prev = 0;
  for (auto& [t, d] : edges) {
    if (t > prev) runs.emplace_back(prev, t, count);
    count += d;
    prev = t;
  }
  std::uint64_t len = length_ticks(s);
  if (len > prev) runs.emplace_back(prev, len, 0);
  return runs;
}

double entropy(const std::vector<double>& counts) {
  double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  if (total < 1) return kNaN;
  double h = 0;
  for (double c : counts) {
    if (c > 0) h -= c / total * std::log2(c / total);
  }
  return h;
}
}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> k = {
      "pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate", "pitch_in_scale_rate",
      "scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "empty_measure_rate",
      "groove_consistency", "notes_per_beat", "distinct_ioi", "repeated_bars", "repeated_bars_transposed",
      "dissonance_rate", "held_over_rate", "key_stability", "instruments", "drum_part", "drum_hits_per_bar"};
  return k;
}

int pitch_range(const music::Score& s) {
  if (s.notes.empty()) return 0;
  // MusPy starts from highest 0, lowest 127 and skips drums: drums only gives 0 - 127 = -127.
  int hi = 0, lo = 127;
  for (const auto& n : s.notes) {
    if (n.drum()) continue;
    hi = std::max(hi, n.pitch);
    lo = std::min(lo, n.pitch);
  }
  return hi - lo;
}

int n_pitches_used(const music::Score& s) {
  std::set<int> used;
  for (const auto& n : s.notes) if (!n.drum()) used.insert(n.pitch);
  return static_cast<int>(used.size());
}

int n_pitch_classes_used(const music::Score& s) {
  std::set<int> used;
  for (const auto& n : s.notes) if (!n.drum()) used.insert(n.pitch % 12);
  return static_cast<int>(used.size());
}

double polyphony(const music::Score& s) {
  double on = 0, steps = 0;
  for (auto& [a, b, c] : pitch_counts(s)) {
    if (c > 0) {
      on += static_cast<double>(b - a) * c;
      steps += static_cast<double>(b - a);
    }
  }
  return steps < 1 ? kNaN : on / steps;
}

double polyphony_rate(const music::Score& s, int threshold) {
  std::uint64_t len = length_ticks(s);
  if (len < 1) return kNaN;
  double many = 0;
  for (auto& [a, b, c] : pitch_counts(s)) {
    if (c > threshold) many += static_cast<double>(b - a);  // MusPy counts sum > threshold
  }
  return many / static_cast<double>(len);
}

double pitch_in_scale_rate(const music::Score& s, int root, bool minor) {
  static const bool kMajor[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
  static const bool kMinor[12] = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0};
  const bool* scale = minor ? kMinor : kMajor;
  double count = 0, in = 0;
  for (const auto& n : s.notes) {
    if (n.drum()) continue;
    ++count;
    if (scale[((n.pitch - root) % 12 + 12) % 12]) ++in;
  }
  return count < 1 ? kNaN : in / count;
}

double scale_consistency(const music::Score& s) {
  double best = 0;
  for (bool minor : {false, true}) {
    for (int root = 0; root < 12; ++root) {
      double r = pitch_in_scale_rate(s, root, minor);
      if (std::isnan(r)) return kNaN;
      best = std::max(best, r);
    }
  }
  return best;
}

double pitch_entropy(const music::Score& s) {
  std::vector<double> c(128, 0);
  for (const auto& n : s.notes) if (!n.drum()) ++c[static_cast<std::size_t>(n.pitch)];
  return entropy(c);
}

double pitch_class_entropy(const music::Score& s) {
  std::vector<double> c(12, 0);
  for (const auto& n : s.notes) if (!n.drum()) ++c[static_cast<std::size_t>(n.pitch % 12)];
  return entropy(c);
}

static double empty_rate(const music::Score& s, std::uint64_t unit) {
  std::uint64_t len = length_ticks(s);
  if (len < 1) return kNaN;
  std::uint64_t n = len / unit + 1;
  std::vector<bool> used(n, false);
  std::uint64_t count = 0;
  for (const auto& note : s.notes) {  // MusPy includes drums here
    for (std::uint64_t b = note.start_tick / unit; b <= note.end_tick / unit && b < n; ++b) {
      if (!used[b]) {
        used[b] = true;
        ++count;
      }
    }
  }
  return 1.0 - static_cast<double>(count) / static_cast<double>(n);
}

double empty_beat_rate(const music::Score& s) { return empty_rate(s, static_cast<std::uint64_t>(s.ticks_per_quarter)); }
double empty_measure_rate(const music::Score& s, std::int64_t m) { return empty_rate(s, static_cast<std::uint64_t>(m)); }

double groove_consistency(const music::Score& s, std::int64_t m) {
  std::uint64_t len = length_ticks(s);
  std::uint64_t mr = static_cast<std::uint64_t>(m);
  std::uint64_t n = len / mr + 1;
  if (n < 2) return kNaN;
  std::vector<std::set<std::uint64_t>> pattern(n);
  for (const auto& note : s.notes) pattern[note.start_tick / mr].insert(note.start_tick % mr);
  double hamming = 0;
  for (std::uint64_t i = 0; i + 1 < n; ++i) {
    std::vector<std::uint64_t> diff;
    std::set_symmetric_difference(pattern[i].begin(), pattern[i].end(), pattern[i + 1].begin(), pattern[i + 1].end(),
                                  std::back_inserter(diff));
    hamming += static_cast<double>(diff.size());
  }
  return 1.0 - hamming / (static_cast<double>(mr) * static_cast<double>(n - 1));
}

std::int64_t measure_ticks(const music::Score& s) {
  std::uint64_t first = s.time_signatures.empty() ? 0 : s.time_signatures.front().tick;
  return static_cast<std::int64_t>(s.bar_ticks_at(first));
}

double notes_per_beat(const music::Score& s) {
  std::uint64_t len = length_ticks(s);
  if (len < 1) return kNaN;
  double n = 0;
  for (const auto& note : s.notes) n += !note.drum();
  return n / (static_cast<double>(len) / s.ticks_per_quarter);
}

std::vector<double> inter_onset_intervals(const music::Score& s) {
  std::set<std::int64_t> grid;
  for (const auto& n : s.notes) {
    if (!n.drum()) grid.insert(music::tick_to_grid(n.start_tick, s.ticks_per_quarter));
  }
  std::vector<double> out;
  for (auto it = grid.begin(); it != grid.end() && std::next(it) != grid.end(); ++it) {
    out.push_back(static_cast<double>(*std::next(it) - *it) / 12.0);
  }
  return out;
}

int distinct_ioi(const music::Score& s) {
  auto v = inter_onset_intervals(s);
  std::set<double> d(v.begin(), v.end());
  return static_cast<int>(d.size());
}

Metrics compute_metrics(const music::Score& s) {
  Metrics m;
  std::int64_t mt = measure_ticks(s);
  m["pitch_range"] = pitch_range(s);
  m["n_pitches_used"] = n_pitches_used(s);
  m["n_pitch_classes_used"] = n_pitch_classes_used(s);
  m["polyphony"] = polyphony(s);
  m["polyphony_rate"] = polyphony_rate(s);
  m["scale_consistency"] = scale_consistency(s);
  m["pitch_in_scale_rate"] = m["scale_consistency"];  // for the best key
  m["pitch_entropy"] = pitch_entropy(s);
  m["pitch_class_entropy"] = pitch_class_entropy(s);
  m["empty_beat_rate"] = empty_beat_rate(s);
  m["empty_measure_rate"] = empty_measure_rate(s, mt);
  m["groove_consistency"] = groove_consistency(s, mt);
  m["notes_per_beat"] = notes_per_beat(s);
  m["distinct_ioi"] = distinct_ioi(s);
  m["repeated_bars"] = repeated_bar_rate(s, false);
  m["repeated_bars_transposed"] = repeated_bar_rate(s, true);
  m["dissonance_rate"] = dissonance_rate(s);
  m["held_over_rate"] = held_over_rate(s);
  m["key_stability"] = key_stability(s);
  // Instruments: the parts a piece has (pitched programs and the drums), whether it has drums,
  // and drum hits per bar (NaN without drums).
  std::set<int> parts;
  std::size_t hits = 0;
  for (const auto& n : s.notes) parts.insert(music::instrument_of(n)), hits += n.drum();
  m["instruments"] = static_cast<double>(parts.size());
  m["drum_part"] = hits > 0 ? 1.0 : 0.0;
  const double bars = mt > 0 ? std::ceil(static_cast<double>(s.end_tick()) / static_cast<double>(mt)) : 0;
  m["drum_hits_per_bar"] = hits > 0 && bars > 0 ? static_cast<double>(hits) / bars : NAN;
  return m;
}

static double silverman(const std::vector<double>& x) {
  double n = static_cast<double>(x.size());
  double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  double sd = std::sqrt(var / std::max(1.0, n - 1));
  std::vector<double> y = x;
  std::sort(y.begin(), y.end());
  auto q = [&](double p) {
    double pos = p * (n - 1);
    auto lo = static_cast<std::size_t>(std::floor(pos));
    std::size_t hi = std::min(lo + 1, y.size() - 1);
    return y[lo] + (pos - static_cast<double>(lo)) * (y[hi] - y[lo]);
  };
  double iqr = q(0.75) - q(0.25);
  double spread = iqr > 0 ? std::min(sd, iqr / 1.34) : sd;
  double h = 0.9 * spread * std::pow(n, -0.2);
  return h > 1e-9 ? h : 1e-3;  // identical values: a narrow kernel
}

double overlapping_area(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> va, vb;
  for (double x : a) if (!std::isnan(x)) va.push_back(x);
  for (double x : b) if (!std::isnan(x)) vb.push_back(x);
  if (va.size() < 2 || vb.empty()) return kNaN;
  std::vector<double> intra, inter;
  for (std::size_t i = 0; i < va.size(); ++i) {
    for (std::size_t j = i + 1; j < va.size(); ++j) intra.push_back(std::abs(va[i] - va[j]));
    for (double y : vb) inter.push_back(std::abs(va[i] - y));
  }
  double h1 = silverman(intra), h2 = silverman(inter);
  double lo = 0, hi = 0;
  for (double x : intra) hi = std::max(hi, x + 4 * h1);
  for (double x : inter) hi = std::max(hi, x + 4 * h2);
  lo = -4 * std::max(h1, h2);
  constexpr int kSteps = 1000;
  auto kde = [](const std::vector<double>& xs, double h, double t) {
    double sum = 0;
    for (double x : xs) sum += std::exp(-0.5 * ((t - x) / h) * ((t - x) / h));
    return sum / (static_cast<double>(xs.size()) * h * std::sqrt(2 * M_PI));
  };
  double area = 0, dx = (hi - lo) / kSteps, prev = 0;
  for (int i = 0; i <= kSteps; ++i) {
    double t = lo + dx * i;
    double v = std::min(kde(intra, h1, t), kde(inter, h2, t));
    if (i > 0) area += 0.5 * (prev + v) * dx;
    prev = v;
  }
  return std::min(1.0, area);
}

}  // namespace arioso::eval
