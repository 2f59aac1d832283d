// See key.h. Profiles from Krumhansl & Kessler (1982), as tabulated in Krumhansl (1990) and
// used by music21's KrumhanslKessler analyzer.
#include "music/key.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace arioso::music {

namespace {

constexpr std::array<double, 12> kMajor = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
constexpr std::array<double, 12> kMinor = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

double pearson(const std::array<double, 12>& x, const std::array<double, 12>& profile, int tonic) {
  double mx = 0, my = 0;
  for (int i = 0; i < 12; ++i) {
    mx += x[static_cast<std::size_t>(i)];
    my += profile[static_cast<std::size_t>(i)];
  }
  mx /= 12;
  my /= 12;
  double sxy = 0, sxx = 0, syy = 0;
  for (int pc = 0; pc < 12; ++pc) {
    double a = x[static_cast<std::size_t>(pc)] - mx, b = profile[static_cast<std::size_t>((pc - tonic + 12) % 12)] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

const char* kTonicNames[] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};

}  // namespace

std::string Key::name() const { return fmt::format("{}:{}", kTonicNames[tonic], minor ? "minor" : "major"); }

std::vector<std::uint64_t> bar_starts(const Score& score) {
  std::vector<std::uint64_t> bars;
  const std::uint64_t end = score.end_tick();
  for (std::uint64_t t = 0; t < end || bars.empty(); t += score.bar_ticks_at(t)) bars.push_back(t);
  return bars;
}

std::array<double, 12> pitch_class_weights(const Score& score, std::uint64_t from, std::uint64_t to) {
  std::array<double, 12> w{};
  for (const auto& n : score.notes) {
    if (n.drum()) continue;
    std::uint64_t a = std::max(n.start_tick, from), b = std::min(n.end_tick, to);
    if (b > a) w[static_cast<std::size_t>(n.pitch % 12)] += static_cast<double>(b - a) / score.ticks_per_quarter;
  }
  return w;
}

Key estimate_key(const std::array<double, 12>& weights) {
  Key best;
  best.correlation = -2;
  for (int minor = 0; minor < 2; ++minor) {
    for (int tonic = 0; tonic < 12; ++tonic) {
      double r = pearson(weights, minor ? kMinor : kMajor, tonic);
      if (r > best.correlation + 1e-12) best = Key{tonic, minor == 1, r};
    }
  }
  if (best.correlation <= -2) best = Key{};
  return best;
}

Key estimate_key(const Score& score) { return estimate_key(pitch_class_weights(score)); }

namespace {

/// Calls fn(first_bar, last_bar, start_tick, end_tick, weights) for each window of
/// `bars_per_window` bars in order (the last window runs to the end of the piece).
template <typename Fn>
void for_each_window(const Score& score, int bars_per_window, Fn fn) {
  auto bars = bar_starts(score);
  const std::size_t step = static_cast<std::size_t>(std::max(1, bars_per_window));
  for (std::size_t b = 0; b < bars.size(); b += step) {
    const std::size_t last = std::min(bars.size(), b + step) - 1;
    std::uint64_t from = bars[b], to = b + step < bars.size() ? bars[b + step] : std::max(score.end_tick(), from + 1);
    fn(static_cast<int>(b), static_cast<int>(last), from, to, pitch_class_weights(score, from, to));
  }
}

bool silent(const std::array<double, 12>& w) { return *std::max_element(w.begin(), w.end()) <= 0; }

}  // namespace

std::vector<Key> window_keys(const Score& score, int bars_per_window) {
  std::vector<Key> keys;
  for_each_window(score, bars_per_window, [&](int, int, std::uint64_t, std::uint64_t, const std::array<double, 12>& w) {
    if (!silent(w)) keys.push_back(estimate_key(w));
  });
  return keys;
}

std::vector<KeySection> key_sections(const Score& score, int bars_per_window) {
  std::vector<KeySection> out;
  for_each_window(score, bars_per_window, [&](int first, int last, std::uint64_t from, std::uint64_t to, const std::array<double, 12>& w) {
    if (silent(w) && out.empty()) return;
    Key k = silent(w) ? out.back().key : estimate_key(w);
    if (!out.empty() && out.back().key == k) {
      out.back().last_bar = last;
      out.back().end_tick = to;
    } else {
      out.push_back({first, last, from, to, k});
    }
  });
  return out;
}

}  // namespace arioso::music
