// See structure.h. Bars come from music::bar_starts (the score's time signatures).
#include "eval/structure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "music/instruments.h"
#include "music/key.h"

namespace arioso::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using BarSet = std::vector<std::pair<std::int64_t, int>>;  // (grid position in the bar, pitch), sorted, unique

std::vector<BarSet> bar_sets(const music::Score& s) {
  auto bars = music::bar_starts(s);
  std::vector<BarSet> out(bars.size());
  for (const auto& n : s.notes) {
    if (n.drum()) continue;
    auto it = std::upper_bound(bars.begin(), bars.end(), n.start_tick);
    std::size_t b = static_cast<std::size_t>(it - bars.begin()) - 1;
    std::int64_t pos = music::tick_to_grid(n.start_tick - bars[b], s.ticks_per_quarter);
    out[b].emplace_back(pos, n.pitch);
  }
  for (auto& b : out) {
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
  }
  return out;
}

BarSet lowest_at_zero(BarSet b) {
  int low = 127;
  for (auto& [pos, p] : b) low = std::min(low, p);
  for (auto& [pos, p] : b) p -= low;
  return b;
}

}  // namespace

double repeated_bar_rate(const music::Score& score, bool transposed) {
  std::set<BarSet> seen;
  int with_notes = 0, repeats = 0;
  for (const auto& b : bar_sets(score)) {
    if (b.empty()) continue;
    ++with_notes;
    BarSet key = transposed ? lowest_at_zero(b) : b;
    if (!seen.insert(key).second) ++repeats;
  }
  return with_notes ? static_cast<double>(repeats) / with_notes : kNaN;
}

double held_over_rate(const music::Score& score) {
  std::map<int, std::vector<const music::Note*>> parts;
  for (const auto& n : score.notes) if (!n.drum()) parts[music::instrument_of(n)].push_back(&n);
  std::int64_t notes = 0, held = 0;
  for (auto& entry : parts) {
    auto& ns = entry.second;
    std::vector<std::uint64_t> onsets;
    for (const auto* n : ns) onsets.push_back(n->start_tick);
    std::sort(onsets.begin(), onsets.end());
    onsets.erase(std::unique(onsets.begin(), onsets.end()), onsets.end());
    for (const auto* n : ns) {
      auto next = std::upper_bound(onsets.begin(), onsets.end(), n->start_tick);
      if (next == onsets.end()) continue;
      ++notes;
      held += n->end_tick > *next;
    }
  }
  return notes ? static_cast<double>(held) / static_cast<double>(notes) : kNaN;
}

double dissonance_rate(const music::Score& score) {
  std::vector<const music::Note*> notes;
  for (const auto& n : score.notes) {
    if (!n.drum() && n.end_tick > n.start_tick) notes.push_back(&n);
  }
  std::sort(notes.begin(), notes.end(), [](auto* a, auto* b) { return a->start_tick < b->start_tick; });
  std::vector<const music::Note*> sounding;
  std::int64_t pairs = 0, dissonant = 0;
  for (std::size_t i = 0; i < notes.size();) {
    const std::uint64_t t = notes[i]->start_tick;
    sounding.erase(std::remove_if(sounding.begin(), sounding.end(), [&](auto* n) { return n->end_tick <= t; }), sounding.end());
    std::size_t j = i;
    while (j < notes.size() && notes[j]->start_tick == t) ++j;
    auto count = [&](const music::Note* a, const music::Note* b) {
      int ic = std::abs(a->pitch - b->pitch) % 12;
      ++pairs;
      if (ic == 1 || ic == 11 || ic == 6) ++dissonant;
    };
    for (std::size_t a = i; a < j; ++a) {
      for (std::size_t b = a + 1; b < j; ++b) count(notes[a], notes[b]);   // struck together
      for (const auto* held : sounding) count(notes[a], held);             // against what is held
    }
    for (std::size_t a = i; a < j; ++a) sounding.push_back(notes[a]);
    i = j;
  }
  return pairs ? static_cast<double>(dissonant) / static_cast<double>(pairs) : kNaN;
}

double key_stability(const music::Score& score) {
  auto windows = music::window_keys(score, 4);
  if (windows.empty()) return kNaN;
  const music::Key whole = music::estimate_key(score);
  auto same = std::count(windows.begin(), windows.end(), whole);
  return static_cast<double>(same) / static_cast<double>(windows.size());
}

std::vector<std::vector<float>> bar_self_similarity(const music::Score& score) {
  auto sets = bar_sets(score);
  const std::size_t n = sets.size();
  std::vector<std::vector<float>> m(n, std::vector<float>(n, 0.f));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) {
      if (sets[i].empty() && sets[j].empty()) continue;
      BarSet common;
      std::set_intersection(sets[i].begin(), sets[i].end(), sets[j].begin(), sets[j].end(), std::back_inserter(common));
      const std::size_t uni = sets[i].size() + sets[j].size() - common.size();
      m[i][j] = m[j][i] = static_cast<float>(common.size()) / static_cast<float>(uni);
    }
  }
  return m;
}

}  // namespace arioso::eval
