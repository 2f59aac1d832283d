// REMI encoding and decoding; see remi.h for the vocabulary. Bars follow the time signatures:
// a signature change takes effect at the first bar line at or after it (a change in the middle
// of a bar is a malformed file; moving it to the bar line keeps the grid well defined).
#include "music/remi.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"

namespace arioso::music {

namespace {

constexpr int kG = RemiSettings::kGrid;
static_assert(kG == kGridPerQuarter, "REMI positions are the score grid");
constexpr int kTicksPerGrid = 480 / kG;  // decoded scores use 480 ticks per quarter

struct Vocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int> ids;
  int first[7];
  int count[7];
  std::vector<RemiKind> kind;
  std::vector<int> value;
};

const std::vector<int>& durations_table() {
  static const std::vector<int> d = [] {
    std::vector<int> v;
    for (int i = 1; i <= 12; ++i) v.push_back(i);            // up to a quarter, every twelfth
    for (int i = 15; i <= 48; i += 3) v.push_back(i);        // to a whole note, by sixteenths
    for (int i = 54; i <= 96; i += 6) v.push_back(i);        // to two whole notes, by eighths
    for (int i = 108; i <= 192; i += 12) v.push_back(i);     // to four whole notes, by quarters
    return v;
  }();
  return d;
}

const std::vector<int>& tempos_table() {
  static const std::vector<int> t = [] {
    std::vector<int> v;
    constexpr int kBins = 32;
    for (int i = 0; i < kBins; ++i) {
      int bpm = static_cast<int>(std::lround(40.0 * std::pow(240.0 / 40.0, i / double(kBins - 1))));
      if (v.empty() || bpm != v.back()) v.push_back(bpm);
    }
    return v;
  }();
  return t;
}

const std::vector<std::pair<int, int>>& time_sig_table() {
  static const std::vector<std::pair<int, int>> t = [] {
    std::vector<std::pair<int, int>> v;
    for (int d : {2, 4, 8}) {
      for (int n = 1; n * 48 / d <= RemiSettings::kMaxBarGrid; ++n) v.emplace_back(n, d);
    }
    return v;
  }();
  return t;
}

const Vocab& vocab() {
  static const Vocab v = [] {
    Vocab x;
    auto add_kind = [&](RemiKind k, const std::vector<std::pair<std::string, int>>& items) {
      x.first[static_cast<int>(k)] = static_cast<int>(x.tokens.size());
      x.count[static_cast<int>(k)] = static_cast<int>(items.size());
      for (auto& [name, val] : items) {
        x.ids[name] = static_cast<int>(x.tokens.size());
        x.tokens.push_back(name);
        x.kind.push_back(k);
        x.value.push_back(val);
      }
    };
    add_kind(RemiKind::kBar, {{"Bar", 0}});
    std::vector<std::pair<std::string, int>> items;
    for (std::size_t i = 0; i < time_sig_table().size(); ++i) {
      items.emplace_back(fmt::format("TimeSig_{}/{}", time_sig_table()[i].first, time_sig_table()[i].second), static_cast<int>(i));
    }
    add_kind(RemiKind::kTimeSig, items);
    items.clear();
    for (int p = 0; p < RemiSettings::kMaxBarGrid; ++p) items.emplace_back(fmt::format("Position_{}", p), p);
    add_kind(RemiKind::kPosition, items);
    items.clear();
    for (std::size_t i = 0; i < tempos_table().size(); ++i) items.emplace_back(fmt::format("Tempo_{}", tempos_table()[i]), static_cast<int>(i));
    add_kind(RemiKind::kTempo, items);
    items.clear();
    for (int p = RemiSettings::kMinPitch; p <= RemiSettings::kMaxPitch; ++p) items.emplace_back(fmt::format("Pitch_{}", p), p);
    add_kind(RemiKind::kPitch, items);
    items.clear();
    for (int b = 0; b < RemiSettings::kVelocityBins; ++b) items.emplace_back(fmt::format("Velocity_{}", 8 * b + 7), b);
    add_kind(RemiKind::kVelocity, items);
    items.clear();
    for (std::size_t i = 0; i < durations_table().size(); ++i) {
      items.emplace_back(fmt::format("Duration_{}", durations_table()[i]), static_cast<int>(i));
    }
    add_kind(RemiKind::kDuration, items);
    return x;
  }();
  return v;
}

std::int64_t to_grid(std::uint64_t tick, int tpq) { return tick_to_grid(tick, tpq); }

int duration_index(std::int64_t grid_len) {
  const auto& d = durations_table();
  if (grid_len <= d.front()) return 0;
  if (grid_len >= d.back()) return static_cast<int>(d.size()) - 1;
  auto it = std::lower_bound(d.begin(), d.end(), grid_len);
  int hi = static_cast<int>(it - d.begin());
  if (*it == grid_len) return hi;
  int lo = hi - 1;
  return (grid_len - d[lo] <= d[hi] - grid_len) ? lo : hi;  // ties to the shorter
}

int velocity_bin(int v) { return std::clamp(v, 1, 127) / 8; }
int velocity_value(int bin) { return 8 * bin + 7; }

int tempo_index(std::uint32_t us_per_quarter) {
  double bpm = 60e6 / us_per_quarter;
  const auto& t = tempos_table();
  int best = 0;
  double best_err = 1e18;
  for (std::size_t i = 0; i < t.size(); ++i) {
    double err = std::abs(std::log(bpm / t[i]));
    if (err < best_err - 1e-12) {
      best_err = err;
      best = static_cast<int>(i);
    }
  }
  return best;
}
std::uint32_t tempo_us(int index) { return static_cast<std::uint32_t>(std::lround(60e6 / tempos_table()[index])); }

int time_sig_index(int n, int d) {
  if (d == 16 && n % 2 == 0) {
    n /= 2;
    d = 8;
  }
  if (d == 1) {
    n *= 4;
    d = 4;
  }
  const auto& t = time_sig_table();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].first == n && t[i].second == d) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].first == 4 && t[i].second == 4) return static_cast<int>(i);
  }
  return 0;
}
int bar_grid(int ts_index) { return 48 * time_sig_table()[ts_index].first / time_sig_table()[ts_index].second; }

/// The grid form of a score, shared by encode and quantize.
struct GridNote {
  std::int64_t onset;
  int pitch;
  int duration_index;
  int velocity_bin;
};
struct Grid {
  std::vector<GridNote> notes;                    // sorted by (onset, pitch), unique
  std::vector<std::pair<std::int64_t, int>> ts;   // (grid, ts index) sorted
  std::vector<std::pair<std::int64_t, int>> tempo;// (grid, tempo index) sorted, collapsed
};

Grid to_grid(const Score& s) {
  Grid g;
  std::map<std::pair<std::int64_t, int>, GridNote> unique;
  for (const Note& n : s.notes) {
    if (n.pitch < RemiSettings::kMinPitch || n.pitch > RemiSettings::kMaxPitch) continue;
    std::int64_t on = to_grid(n.start_tick, s.ticks_per_quarter);
    std::int64_t len = to_grid(n.end_tick, s.ticks_per_quarter) - on;
    GridNote x{on, n.pitch, duration_index(len), velocity_bin(n.velocity)};
    auto [it, inserted] = unique.try_emplace({on, n.pitch}, x);
    if (!inserted) {  // one note per (onset, pitch): the longest, then the loudest
      GridNote& y = it->second;
      if (std::tie(x.duration_index, x.velocity_bin) > std::tie(y.duration_index, y.velocity_bin)) y = x;
    }
  }
  for (auto& [k, v] : unique) g.notes.push_back(v);
  // A pitch struck again ends its previous note there: MIDI cannot hold two sounding notes of
  // one pitch on one channel (a reader pairs the note-offs first in, first out), so an overlap
  // would not come back from the file as it went in.
  std::map<int, std::size_t> sounding;  // pitch -> index of its latest note
  for (std::size_t i = 0; i < g.notes.size(); ++i) {
    auto it = sounding.find(g.notes[i].pitch);
    if (it != sounding.end()) {
      GridNote& prev = g.notes[it->second];
      const std::int64_t gap = g.notes[i].onset - prev.onset;
      while (prev.duration_index > 0 && durations_table()[static_cast<std::size_t>(prev.duration_index)] > gap) --prev.duration_index;
    }
    sounding[g.notes[i].pitch] = i;
  }
  for (const auto& ts : s.time_signatures) g.ts.emplace_back(to_grid(ts.tick, s.ticks_per_quarter), time_sig_index(ts.numerator, ts.denominator));
  std::stable_sort(g.ts.begin(), g.ts.end(), [](auto& a, auto& b) { return a.first < b.first; });
  // Tempo at each grid point where it changes; the last change at one grid point wins.
  std::vector<std::pair<std::int64_t, int>> raw;
  raw.emplace_back(0, tempo_index(500000));
  std::vector<TempoChange> tempos = s.tempos;
  std::stable_sort(tempos.begin(), tempos.end(), [](auto& a, auto& b) { return a.tick < b.tick; });
  for (const auto& t : tempos) {
    std::int64_t at = to_grid(t.tick, s.ticks_per_quarter);
    if (raw.back().first == at) raw.back().second = tempo_index(t.us_per_quarter);
    else raw.emplace_back(at, tempo_index(t.us_per_quarter));
  }
  std::int64_t last_onset = g.notes.empty() ? -1 : g.notes.back().onset;
  for (auto& r : raw) {
    if (r.first > last_onset) break;
    if (g.tempo.empty() || g.tempo.back().second != r.second) g.tempo.push_back(r);
  }
  return g;
}

/// Bars covering [0, last onset]: (start, time signature index, whether it changed here).
struct Bar {
  std::int64_t start;
  int ts;
  bool ts_changed;
};
std::vector<Bar> layout_bars(const Grid& g) {
  std::vector<Bar> bars;
  if (g.notes.empty()) return bars;
  std::int64_t last = g.notes.back().onset;
  std::size_t next_ts = 0;
  int ts = time_sig_index(4, 4);
  int prev = -1;
  std::int64_t s = 0;
  while (s <= last) {
    while (next_ts < g.ts.size() && g.ts[next_ts].first <= s) ts = g.ts[next_ts++].second;
    bars.push_back({s, ts, ts != prev});
    prev = ts;
    s += bar_grid(ts);
  }
  return bars;
}

}  // namespace

const std::vector<std::string>& remi_vocabulary() { return vocab().tokens; }
const std::vector<int>& remi_durations() { return durations_table(); }
const std::vector<int>& remi_tempos() { return tempos_table(); }
const std::vector<std::pair<int, int>>& remi_time_signatures() { return time_sig_table(); }
RemiKind remi_kind(int id) { return vocab().kind[static_cast<std::size_t>(id)]; }
int remi_value(int id) { return vocab().value[static_cast<std::size_t>(id)]; }
int remi_first_id(RemiKind k) { return vocab().first[static_cast<int>(k)]; }
int remi_count(RemiKind k) { return vocab().count[static_cast<int>(k)]; }

Score remi_quantize(const Score& s) {
  Grid g = to_grid(s);
  Score q;
  q.ticks_per_quarter = 480;
  for (const auto& n : g.notes) {
    Note x;
    x.start_tick = static_cast<std::uint64_t>(n.onset) * kTicksPerGrid;
    x.end_tick = x.start_tick + static_cast<std::uint64_t>(durations_table()[n.duration_index]) * kTicksPerGrid;
    x.pitch = n.pitch;
    x.velocity = velocity_value(n.velocity_bin);
    q.notes.push_back(x);
  }
  for (const auto& b : layout_bars(g)) {
    if (b.ts_changed) {
      q.time_signatures.push_back({static_cast<std::uint64_t>(b.start) * kTicksPerGrid, time_sig_table()[b.ts].first,
                                   time_sig_table()[b.ts].second});
    }
  }
  for (const auto& t : g.tempo) q.tempos.push_back({static_cast<std::uint64_t>(t.first) * kTicksPerGrid, tempo_us(t.second)});
  return q;
}

std::vector<std::string> remi_encode(const Score& s) {
  Grid g = to_grid(s);
  const auto& V = vocab();
  std::vector<std::string> out;
  std::size_t ni = 0, ti = 0;
  for (const Bar& bar : layout_bars(g)) {
    out.push_back("Bar");
    if (bar.ts_changed) out.push_back(V.tokens[static_cast<std::size_t>(remi_first_id(RemiKind::kTimeSig) + bar.ts)]);
    std::int64_t end = bar.start + bar_grid(bar.ts);
    while (true) {
      std::int64_t next_note = ni < g.notes.size() ? g.notes[ni].onset : INT64_MAX;
      std::int64_t next_tempo = ti < g.tempo.size() ? g.tempo[ti].first : INT64_MAX;
      std::int64_t at = std::min(next_note, next_tempo);
      if (at >= end) break;
      out.push_back(fmt::format("Position_{}", at - bar.start));
      if (next_tempo == at) out.push_back(fmt::format("Tempo_{}", tempos_table()[g.tempo[ti++].second]));
      while (ni < g.notes.size() && g.notes[ni].onset == at) {
        const GridNote& n = g.notes[ni++];
        out.push_back(fmt::format("Pitch_{}", n.pitch));
        out.push_back(fmt::format("Velocity_{}", velocity_value(n.velocity_bin)));
        out.push_back(fmt::format("Duration_{}", durations_table()[n.duration_index]));
      }
    }
  }
  return out;
}

Score remi_decode(const std::vector<std::string>& tokens) {
  const auto& V = vocab();
  Score s;
  s.ticks_per_quarter = 480;
  RemiGrammar grammar;
  std::int64_t bar_start = 0, bar_len = 0;
  bool any_bar = false;
  Note pending;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto it = V.ids.find(tokens[i]);
    if (it == V.ids.end()) throw Error(fmt::format("token {}: '{}' is not a REMI token", i, tokens[i]));
    int id = it->second;
    if (!grammar.feed(id)) throw Error(fmt::format("token {}: '{}' cannot follow '{}'", i, tokens[i], i ? tokens[i - 1] : "the start"));
    int val = remi_value(id);
    switch (remi_kind(id)) {
      case RemiKind::kBar:
        if (any_bar) bar_start += bar_len;
        any_bar = true;
        bar_len = grammar.bar_length();
        break;
      case RemiKind::kTimeSig:
        bar_len = grammar.bar_length();
        s.time_signatures.push_back({static_cast<std::uint64_t>(bar_start) * kTicksPerGrid, time_sig_table()[val].first, time_sig_table()[val].second});
        break;
      case RemiKind::kPosition:
        break;
      case RemiKind::kTempo:
        s.tempos.push_back({static_cast<std::uint64_t>(bar_start + grammar.position()) * kTicksPerGrid, tempo_us(val)});
        break;
      case RemiKind::kPitch:
        pending = Note{};
        pending.pitch = val;
        pending.start_tick = static_cast<std::uint64_t>(bar_start + grammar.position()) * kTicksPerGrid;
        break;
      case RemiKind::kVelocity:
        pending.velocity = velocity_value(val);
        break;
      case RemiKind::kDuration:
        pending.end_tick = pending.start_tick + static_cast<std::uint64_t>(durations_table()[val]) * kTicksPerGrid;
        s.notes.push_back(pending);
        break;
    }
  }
  return s;
}

std::optional<std::vector<int>> remi_transpose(const std::vector<int>& ids, int semitones) {
  std::vector<int> out = ids;
  for (int& id : out) {
    if (remi_kind(id) != RemiKind::kPitch) continue;
    int p = remi_value(id) + semitones;
    if (p < RemiSettings::kMinPitch || p > RemiSettings::kMaxPitch) return std::nullopt;
    id += semitones;
  }
  return out;
}

// --- Grammar

void RemiGrammar::allowed(std::vector<bool>& a) const {
  const int V = static_cast<int>(vocab().tokens.size());
  a.assign(static_cast<std::size_t>(V), false);
  auto allow_kind = [&](RemiKind k) {
    for (int i = 0; i < remi_count(k); ++i) a[static_cast<std::size_t>(remi_first_id(k) + i)] = true;
  };
  auto allow_positions_after = [&](int from) {
    for (int p = from; p < bar_len_; ++p) a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition) + p)] = true;
  };
  auto allow_pitches_above = [&](int from) {
    for (int p = std::max(from, RemiSettings::kMinPitch); p <= RemiSettings::kMaxPitch; ++p) {
      a[static_cast<std::size_t>(remi_first_id(RemiKind::kPitch) + p - RemiSettings::kMinPitch)] = true;
    }
  };
  const int bar = remi_first_id(RemiKind::kBar);
  switch (state_) {
    case State::kStart: a[static_cast<std::size_t>(bar)] = true; break;
    case State::kAfterBar:
      if (ts_index_ < 0) {  // the first bar states its time signature
        allow_kind(RemiKind::kTimeSig);
        break;
      }
      allow_kind(RemiKind::kTimeSig);
      a[static_cast<std::size_t>(remi_first_id(RemiKind::kTimeSig) + ts_index_)] = false;
      a[static_cast<std::size_t>(bar)] = true;
      allow_positions_after(0);
      break;
    case State::kAfterTimeSig:
      if (tempo_index_ < 0) {  // the piece states its tempo at its first position
        a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition))] = true;
        break;
      }
      a[static_cast<std::size_t>(bar)] = true;
      allow_positions_after(0);
      break;
    case State::kAfterPosition:
      allow_kind(RemiKind::kTempo);
      if (tempo_index_ < 0) break;
      a[static_cast<std::size_t>(remi_first_id(RemiKind::kTempo) + tempo_index_)] = false;
      allow_pitches_above(0);
      break;
    case State::kAfterTempo:
      allow_pitches_above(0);
      allow_positions_after(pos_ + 1);
      a[static_cast<std::size_t>(bar)] = true;
      break;
    case State::kAfterPitch: allow_kind(RemiKind::kVelocity); break;
    case State::kAfterVelocity: allow_kind(RemiKind::kDuration); break;
    case State::kAfterDuration:
      allow_pitches_above(last_pitch_ + 1);
      allow_positions_after(pos_ + 1);
      a[static_cast<std::size_t>(bar)] = true;
      break;
  }
}

bool RemiGrammar::feed(int id) {
  if (id < 0 || id >= static_cast<int>(vocab().tokens.size())) return false;
  std::vector<bool> a;
  allowed(a);
  if (!a[static_cast<std::size_t>(id)]) return false;
  int val = remi_value(id);
  switch (remi_kind(id)) {
    case RemiKind::kBar:
      state_ = State::kAfterBar;
      pos_ = -1;
      ++bars_;
      break;
    case RemiKind::kTimeSig:
      ts_index_ = val;
      bar_len_ = bar_grid(val);
      state_ = State::kAfterTimeSig;
      break;
    case RemiKind::kPosition:
      pos_ = val;
      last_pitch_ = -1;
      state_ = State::kAfterPosition;
      break;
    case RemiKind::kTempo:
      tempo_index_ = val;
      state_ = State::kAfterTempo;
      break;
    case RemiKind::kPitch:
      last_pitch_ = val;
      state_ = State::kAfterPitch;
      break;
    case RemiKind::kVelocity: state_ = State::kAfterVelocity; break;
    case RemiKind::kDuration: state_ = State::kAfterDuration; break;
  }
  return true;
}


}  // namespace arioso::music
