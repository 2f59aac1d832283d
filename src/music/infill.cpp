// The fill-in-the-middle arrangement; see infill.h.
#include "music/infill.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace arioso::music {

bool FillSpan::fills_instrument(const Note& n) const {
  if (instruments.empty()) return true;
  const int i = n.drum() ? RemiSettings::kDrums : n.program;
  return instruments[static_cast<std::size_t>(i)];
}

std::vector<std::uint64_t> remi_bar_ticks(const Score& q, int min_bars) {
  std::uint64_t last_onset = 0;
  for (const auto& n : q.notes) last_onset = std::max(last_onset, n.start_tick);
  std::vector<std::uint64_t> bars;
  std::uint64_t t = 0;
  while ((!q.notes.empty() && t <= last_onset) || static_cast<int>(bars.size()) < min_bars) {
    bars.push_back(t);
    t += q.bar_ticks_at(t);
  }
  bars.push_back(t);
  return bars;
}

Score remi_bars(const Score& q, const std::vector<std::uint64_t>& bar_ticks, int from_bar, int to_bar,
                const std::function<bool(const Note&)>& keep) {
  const std::uint64_t from = bar_ticks[static_cast<std::size_t>(from_bar)], to = bar_ticks[static_cast<std::size_t>(to_bar)];
  Score s;
  s.ticks_per_quarter = q.ticks_per_quarter;
  for (const auto& n : q.notes) {
    if (n.start_tick < from || n.start_tick >= to || !keep(n)) continue;
    Note x = n;
    x.start_tick -= from;
    x.end_tick -= from;
    s.notes.push_back(x);
  }
  // The meter and tempo in effect at the first bar, then their changes within the bars.
  auto shifted = [&](const auto& list, auto& out) {
    for (const auto& e : list) {
      if (e.tick >= to) break;
      auto x = e;
      x.tick = e.tick <= from ? 0 : e.tick - from;
      if (x.tick == 0 && !out.empty()) out.back() = x;
      else out.push_back(x);
    }
  };
  shifted(q.time_signatures, s.time_signatures);
  shifted(q.tempos, s.tempos);
  return s;
}

namespace {

std::vector<int> keys_of(const std::vector<int>& bar_keys, int from, int to) {
  std::vector<int> k;
  for (int b = from; b < to; ++b) {
    if (bar_keys.empty()) k.push_back(0);
    else k.push_back(bar_keys[static_cast<std::size_t>(std::min<int>(b, static_cast<int>(bar_keys.size()) - 1))]);
  }
  return k;
}

}  // namespace

FillArrangement remi_fill_arrange(const Score& q, const std::vector<int>& bar_keys, int from_bar, int to_bar, const FillSpan& span,
                                  const RemiOptions& opt) {
  if (!(from_bar <= span.first_bar && span.first_bar < span.end_bar && span.end_bar <= to_bar)) {
    throw Error(fmt::format("infill: bars {}-{} are not inside the context's bars {}-{}", span.first_bar + 1, span.end_bar, from_bar + 1, to_bar));
  }
  const auto bars = remi_bar_ticks(q, to_bar);
  const std::uint64_t a = bars[static_cast<std::size_t>(span.first_bar)], b = bars[static_cast<std::size_t>(span.end_bar)];
  auto in_span = [&](const Note& n) { return n.start_tick >= a && n.start_tick < b; };
  FillArrangement out;
  out.from_bar = from_bar;
  out.to_bar = to_bar;
  RemiBars layout;
  layout.min_bars = to_bar - from_bar;
  layout.keys = keys_of(bar_keys, from_bar, to_bar);
  layout.holes.assign(static_cast<std::size_t>(to_bar - from_bar), false);
  for (int i = span.first_bar; i < span.end_bar; ++i) layout.holes[static_cast<std::size_t>(i - from_bar)] = true;
  Score context = remi_bars(q, bars, from_bar, to_bar, [&](const Note& n) {
    return !(span.fills_instrument(n) && (span.absent || in_span(n)));
  });
  out.context = remi_encode(context, written_out(opt), layout);  // bars left out: no Repeat
  out.context.push_back("Fill");
  Score middle = remi_bars(q, bars, span.first_bar, span.end_bar, [&](const Note& n) { return span.fills_instrument(n); });
  RemiBars middle_layout;
  middle_layout.keys = keys_of(bar_keys, span.first_bar, span.end_bar);
  // Every bar of the span is stated, empty ones after the last note too, so that the middle
  // ends (FillEnd) only where the span does; a middle without notes is FillEnd alone.
  if (!middle.notes.empty()) middle_layout.min_bars = span.end_bar - span.first_bar;
  out.middle = remi_encode(middle, written_out(opt), middle_layout);
  out.middle.push_back("FillEnd");
  return out;
}

std::vector<int> remi_tokens_per_bar(const std::vector<std::uint16_t>& ids) {
  std::vector<int> out;
  const int bar = remi_first_id(RemiKind::kBar);
  for (auto id : ids) {
    if (id == bar || out.empty()) out.push_back(0);
    ++out.back();
  }
  return out;
}

std::pair<int, int> remi_fill_region(const std::vector<int>& tokens_per_bar, const FillSpan& span, int budget, double before_share) {
  const int n = static_cast<int>(tokens_per_bar.size());
  int from = span.first_bar, to = std::min(n, span.end_bar);
  auto cost = [&](int bar) { return bar >= 0 && bar < n ? tokens_per_bar[static_cast<std::size_t>(bar)] + 1 : 1; };
  int left = static_cast<int>(budget * std::clamp(before_share, 0.0, 1.0));
  while (from > 0 && cost(from - 1) <= left) left -= cost(--from);
  int right = budget - static_cast<int>(budget * std::clamp(before_share, 0.0, 1.0)) + left;
  while (to < n && cost(to) <= right) right -= cost(to++);
  while (from > 0 && cost(from - 1) <= right) right -= cost(--from);  // what the end did not use
  return {from, std::max(to, span.end_bar)};
}

FillArrangement remi_fill_example(const Score& q, const std::vector<int>& bar_keys, const std::vector<int>& tokens_per_bar,
                                  std::mt19937_64& rng, int max_tokens, const RemiOptions& opt) {
  const int n = static_cast<int>(tokens_per_bar.size());
  if (n == 0) return {};
  FillSpan span;
  int g = std::min(n, 1 + static_cast<int>(rng() % 4));
  span.first_bar = static_cast<int>(rng() % static_cast<std::uint64_t>(n - g + 1));
  const int mode = static_cast<int>(rng() % 4);  // 0, 1: every part; 2: some, also in the context; 3: some, added
  std::vector<int> present;
  {
    std::vector<bool> seen(RemiSettings::kDrums + 1, false);
    for (const auto& x : q.notes) seen[static_cast<std::size_t>(x.drum() ? RemiSettings::kDrums : x.program)] = true;
    for (int i = 0; i <= RemiSettings::kDrums; ++i) if (seen[static_cast<std::size_t>(i)]) present.push_back(i);
  }
  if (mode >= 2 && present.size() >= 2) {
    span.instruments.assign(RemiSettings::kDrums + 1, false);
    std::size_t chosen = 0;
    for (int i : present) {
      if (rng() % 2) span.instruments[static_cast<std::size_t>(i)] = true, ++chosen;
    }
    if (chosen == 0) span.instruments[static_cast<std::size_t>(present[rng() % present.size()])] = true;
    if (chosen == present.size()) span.instruments[static_cast<std::size_t>(present[rng() % present.size()])] = false;
    span.absent = mode == 3;
  }
  // A middle of at most half the budget (by the bars' plain tokens), at least one bar.
  auto tokens_of = [&](int from, int to) {
    int t = 0;
    for (int b = from; b < to; ++b) t += tokens_per_bar[static_cast<std::size_t>(b)];
    return t;
  };
  while (g > 1 && tokens_of(span.first_bar, span.first_bar + g) > max_tokens / 2) --g;
  span.end_bar = span.first_bar + g;
  // The span's bars cost about their plain tokens in all (context and middle together).
  const int budget = max_tokens - tokens_of(span.first_bar, span.end_bar) - (g + 4);
  const double before = static_cast<double>(rng() % 1001) / 1000.0;
  auto [from, to] = remi_fill_region(tokens_per_bar, span, std::max(0, budget), before);
  FillArrangement fa = remi_fill_arrange(q, bar_keys, from, to, span, opt);
  // A context without the filled parts (a part added) or with few notes in the span costs less
  // than its bars' plain tokens: widen it once by what it used.
  const int used = static_cast<int>(fa.context.size()), room = max_tokens - static_cast<int>(fa.middle.size());
  if (used > 0 && used < room * 3 / 4 && (from > 0 || to < n)) {
    const int wider = static_cast<int>(static_cast<double>(std::max(0, budget)) * room / used);
    auto [f2, t2] = remi_fill_region(tokens_per_bar, span, wider, before);
    FillArrangement wide = remi_fill_arrange(q, bar_keys, f2, t2, span, opt);
    if (static_cast<int>(wide.context.size()) <= room) fa = std::move(wide);
  }
  return fa;
}

std::vector<Note> remi_fill_notes(const std::vector<std::string>& middle, const std::vector<std::uint64_t>& bar_ticks,
                                  const FillSpan& span, const RemiOptions& opt) {
  std::vector<std::string> tokens = middle;
  if (!tokens.empty() && tokens.back() == "FillEnd") tokens.pop_back();
  Score s = remi_decode(tokens, written_out(opt));
  const std::uint64_t shift = bar_ticks[static_cast<std::size_t>(span.first_bar)];
  for (auto& n : s.notes) n.start_tick += shift, n.end_tick += shift;
  return s.notes;
}

}  // namespace arioso::music
