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
#include "music/key.h"

namespace arioso::music {

namespace {

constexpr int kG = RemiSettings::kGrid;
static_assert(kG == kGridPerQuarter, "REMI positions are the score grid");
constexpr int kTicksPerGrid = 480 / kG;  // decoded scores use 480 ticks per quarter

struct Vocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int> ids;
  int first[kRemiKinds];
  int count[kRemiKinds];
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
    items.clear();
    for (int k = 0; k < 24; ++k) items.emplace_back(fmt::format("Key_{}", Key{k % 12, k >= 12, 0}.name()), k);
    add_kind(RemiKind::kKey, items);
    items.clear();
    for (int p = 0; p < 128; ++p) items.emplace_back(fmt::format("Program_{}", p), p);
    items.emplace_back("Program_Drums", RemiSettings::kDrums);  // in the header only
    add_kind(RemiKind::kProgram, items);
    items.clear();
    for (int k = RemiSettings::kMinDrum; k <= RemiSettings::kMaxDrum; ++k) items.emplace_back(fmt::format("Drum_{}", k), k);
    add_kind(RemiKind::kDrum, items);
    add_kind(RemiKind::kFill, {{"Hole", 0}, {"Fill", 1}, {"FillEnd", 2}});
    items.clear();
    for (int k = 1; k <= RemiSettings::kMaxRepeat; ++k) items.emplace_back(fmt::format("Repeat_{}", k), k);
    add_kind(RemiKind::kRepeat, items);
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
  int instrument;      // program 0-127, kDrums; 0 without instruments
  int pitch;           // MIDI key (a drum's percussion key)
  int duration_index;  // pitched notes; a drum's length follows from the next hit (drum_lengths)
  int velocity_bin;
};
constexpr int kDrums = RemiSettings::kDrums;

/// The pitched programs a piece keeps: the kMaxPitchedParts with the most notes (ties: the lower).
std::vector<bool> kept_programs(const Score& s) {
  std::vector<std::size_t> count(128, 0);
  for (const Note& n : s.notes) if (!n.drum()) ++count[static_cast<std::size_t>(n.program)];
  std::vector<int> order(128);
  for (int p = 0; p < 128; ++p) order[static_cast<std::size_t>(p)] = p;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return count[static_cast<std::size_t>(a)] > count[static_cast<std::size_t>(b)]; });
  std::vector<bool> keep(128, false);
  for (int i = 0; i < RemiSettings::kMaxPitchedParts; ++i) keep[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = count[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] > 0;
  return keep;
}

/// What the grid and the decoder both do last to the notes they made (in order of onset,
/// instrument, pitch, at 480 ticks per quarter): a drum hit lasts kDrumGrid or until its drum is
/// struck again; pitched programs get channels 0-8, 10-15 in order of first note.
void finish_parts(std::vector<Note>& notes) {
  std::map<int, std::size_t> last_hit;  // drum key -> index of its latest hit
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (!notes[i].drum()) continue;
    notes[i].end_tick = notes[i].start_tick + RemiSettings::kDrumGrid * kTicksPerGrid;
    auto it = last_hit.find(notes[i].pitch);
    if (it != last_hit.end()) notes[it->second].end_tick = std::min(notes[it->second].end_tick, notes[i].start_tick);
    last_hit[notes[i].pitch] = i;
  }
  std::map<int, int> channel_of;  // program -> channel
  for (Note& n : notes) {
    if (n.drum()) continue;
    auto [it, added] = channel_of.try_emplace(n.program, static_cast<int>(channel_of.size()));
    if (added && it->second >= 9) ++it->second;  // channel 10 (index 9) is the drums'
    n.channel = it->second;
  }
}
struct Grid {
  std::vector<GridNote> notes;                    // sorted by (onset, pitch), unique
  std::vector<std::pair<std::int64_t, int>> ts;   // (grid, ts index) sorted
  std::vector<std::pair<std::int64_t, int>> tempo;// (grid, tempo index) sorted, collapsed
};

/// The instrument a note is encoded as, or -1 if the grid drops it (out of range, drums or a
/// program beyond the kept ones).
int instrument_of(const Note& n, const RemiOptions& opt, const std::vector<bool>& kept) {
  if (n.drum()) {
    const bool in_range = n.pitch >= RemiSettings::kMinDrum && n.pitch <= RemiSettings::kMaxDrum;
    return opt.instruments && in_range ? kDrums : -1;
  }
  if (n.pitch < RemiSettings::kMinPitch || n.pitch > RemiSettings::kMaxPitch) return -1;
  if (!opt.instruments) return 0;
  return kept[static_cast<std::size_t>(n.program)] ? n.program : -1;
}

Grid to_grid(const Score& s, const RemiOptions& opt) {
  Grid g;
  const std::vector<bool> kept = opt.instruments ? kept_programs(s) : std::vector<bool>{};
  std::map<std::tuple<std::int64_t, int, int>, GridNote> unique;  // (onset, instrument, pitch)
  for (const Note& n : s.notes) {
    const int instrument = instrument_of(n, opt, kept);
    if (instrument < 0) continue;
    std::int64_t on = to_grid(n.start_tick, s.ticks_per_quarter);
    std::int64_t len = to_grid(n.end_tick, s.ticks_per_quarter) - on;
    GridNote x{on, instrument, n.pitch, instrument == kDrums ? 0 : duration_index(len), velocity_bin(n.velocity)};
    auto [it, inserted] = unique.try_emplace({on, instrument, n.pitch}, x);
    if (!inserted) {  // one note per (onset, instrument, pitch): the longest, then the loudest
      GridNote& y = it->second;
      if (std::tie(x.duration_index, x.velocity_bin) > std::tie(y.duration_index, y.velocity_bin)) y = x;
    }
  }
  for (auto& [k, v] : unique) g.notes.push_back(v);
  // A pitch struck again ends its instrument's previous note there: MIDI cannot hold two
  // sounding notes of one pitch on one channel (a reader pairs the note-offs first in, first
  // out), so an overlap would not come back from the file as it went in. (Drums: finish_parts.)
  std::map<std::pair<int, int>, std::size_t> sounding;  // (instrument, pitch) -> its latest note
  for (std::size_t i = 0; i < g.notes.size(); ++i) {
    if (g.notes[i].instrument == kDrums) continue;
    const std::pair<int, int> key{g.notes[i].instrument, g.notes[i].pitch};
    auto it = sounding.find(key);
    if (it != sounding.end()) {
      GridNote& prev = g.notes[it->second];
      const std::int64_t gap = g.notes[i].onset - prev.onset;
      while (prev.duration_index > 0 && durations_table()[static_cast<std::size_t>(prev.duration_index)] > gap) --prev.duration_index;
    }
    sounding[key] = i;
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
std::vector<Bar> layout_bars(const Grid& g, int min_bars = 0) {
  std::vector<Bar> bars;
  if (g.notes.empty() && min_bars <= 0) return bars;
  std::int64_t last = g.notes.empty() ? -1 : g.notes.back().onset;
  std::size_t next_ts = 0;
  int ts = time_sig_index(4, 4);
  int prev = -1;
  std::int64_t s = 0;
  while (s <= last || static_cast<int>(bars.size()) < min_bars) {
    while (next_ts < g.ts.size() && g.ts[next_ts].first <= s) ts = g.ts[next_ts++].second;
    bars.push_back({s, ts, ts != prev});
    prev = ts;
    s += bar_grid(ts);
  }
  return bars;
}

}  // namespace

std::vector<std::string> remi_vocabulary(const RemiOptions& o) {
  const auto& all = vocab().tokens;
  if (o.repeats) return all;
  if (o.infill) return std::vector<std::string>(all.begin(), all.begin() + remi_first_id(RemiKind::kRepeat));
  if (o.instruments) return std::vector<std::string>(all.begin(), all.begin() + remi_first_id(RemiKind::kFill));
  return std::vector<std::string>(all.begin(), all.begin() + remi_first_id(o.keys ? RemiKind::kProgram : RemiKind::kKey));
}
const std::vector<int>& remi_durations() { return durations_table(); }
const std::vector<int>& remi_tempos() { return tempos_table(); }
RemiKind remi_kind(int id) { return vocab().kind[static_cast<std::size_t>(id)]; }
int remi_value(int id) { return vocab().value[static_cast<std::size_t>(id)]; }
int remi_first_id(RemiKind k) { return vocab().first[static_cast<int>(k)]; }
int remi_count(RemiKind k) { return vocab().count[static_cast<int>(k)]; }

namespace {

/// The music a grid holds, at 480 ticks per quarter (remi_quantize's result).
Score score_of_grid(const Grid& g) {
  Score q;
  q.ticks_per_quarter = 480;
  for (const auto& n : g.notes) {
    Note x;
    x.start_tick = static_cast<std::uint64_t>(n.onset) * kTicksPerGrid;
    x.end_tick = x.start_tick + static_cast<std::uint64_t>(durations_table()[static_cast<std::size_t>(n.duration_index)]) * kTicksPerGrid;
    x.pitch = n.pitch;
    x.velocity = velocity_value(n.velocity_bin);
    if (n.instrument == kDrums) x.channel = 9;
    else x.program = n.instrument;
    q.notes.push_back(x);
  }
  finish_parts(q.notes);
  for (const auto& b : layout_bars(g)) {
    if (b.ts_changed) {
      q.time_signatures.push_back({static_cast<std::uint64_t>(b.start) * kTicksPerGrid, time_sig_table()[b.ts].first,
                                   time_sig_table()[b.ts].second});
    }
  }
  for (const auto& t : g.tempo) q.tempos.push_back({static_cast<std::uint64_t>(t.first) * kTicksPerGrid, tempo_us(t.second)});
  return q;
}

}  // namespace

Score remi_quantize(const Score& s, const RemiOptions& options) { return score_of_grid(to_grid(s, options)); }

std::vector<int> remi_bar_keys(const Score& q) {
  auto bars = bar_starts(q);
  auto sections = key_sections(q, 8);
  // Sections shorter than 16 bars join their neighbour (the previous one, else the next):
  // eight bars of a new key are a passing tonicization more often than a new section.
  for (bool merged = true; merged && sections.size() > 1;) {
    merged = false;
    for (std::size_t i = 0; i < sections.size(); ++i) {
      if (sections[i].last_bar - sections[i].first_bar + 1 >= 16) continue;
      std::size_t into = i > 0 ? i - 1 : i + 1;
      auto& keep = sections[into];
      keep.first_bar = std::min(keep.first_bar, sections[i].first_bar);
      keep.last_bar = std::max(keep.last_bar, sections[i].last_bar);
      keep.start_tick = std::min(keep.start_tick, sections[i].start_tick);
      keep.end_tick = std::max(keep.end_tick, sections[i].end_tick);
      keep.key = estimate_key(pitch_class_weights(q, keep.start_tick, keep.end_tick));
      sections.erase(sections.begin() + static_cast<long>(i));
      merged = true;
      break;
    }
  }
  if (sections.size() == 1) sections[0].key = estimate_key(q);
  if (sections.empty()) return std::vector<int>(bars.size(), 0);
  auto index_of = [](const KeySection& sec) { return remi_key_index(sec.key.tonic, sec.key.minor); };
  std::vector<int> keys(bars.size(), index_of(sections.front()));  // bars before the first notes: the first key
  for (const auto& sec : sections) {
    for (int b = sec.first_bar; b <= sec.last_bar && b < static_cast<int>(bars.size()); ++b) keys[static_cast<std::size_t>(b)] = index_of(sec);
  }
  for (std::size_t b = static_cast<std::size_t>(sections.back().last_bar) + 1; b < bars.size(); ++b) keys[b] = index_of(sections.back());
  return keys;
}

std::vector<RemiPart> remi_parts(const Score& s) {
  const RemiOptions opt{true, false, true};
  const std::vector<bool> kept = kept_programs(s);
  std::map<int, RemiPart> by;
  auto add_unique = [](std::vector<int>& v, int x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.insert(std::upper_bound(v.begin(), v.end(), x), x);
  };
  for (const Note& n : s.notes) {
    const int instrument = n.drum() ? kDrums : n.program;
    RemiPart& p = by[instrument];
    p.instrument = instrument;
    ++p.notes;
    p.kept += instrument_of(n, opt, kept) >= 0;
    add_unique(p.tracks, n.track);
    add_unique(p.channels, n.channel);
    p.lowest = std::min(p.lowest, n.pitch);
    p.highest = std::max(p.highest, n.pitch);
  }
  std::vector<RemiPart> out;
  for (auto& [k, p] : by) out.push_back(p);
  return out;
}

std::vector<std::string> remi_encode(const Score& s, const RemiOptions& opt) { return remi_encode(s, opt, RemiBars{}); }

std::vector<std::string> remi_encode(const Score& s, const RemiOptions& opt, const RemiBars& layout) {
  if (opt.repeats) {
    if (!layout.holes.empty()) throw Error("REMI: a sequence with Hole markers is written out (no Repeat tokens)");
    return remi_collapse_repeats(remi_encode(s, written_out(opt), layout));
  }
  Grid g = to_grid(s, opt);
  const auto& V = vocab();
  std::vector<int> bar_keys = layout.keys;
  if (opt.keys && bar_keys.empty()) bar_keys = remi_bar_keys(score_of_grid(g));  // keys from the notes as encoded
  std::vector<std::string> out;
  std::size_t ni = 0, ti = 0, bar_index = 0;
  std::vector<int> velocity(kDrums + 1, -1), duration(kDrums + 1, -1);  // per instrument (compact)
  for (const Bar& bar : layout_bars(g, layout.min_bars)) {
    out.push_back("Bar");
    int program = -1;  // each bar states its programs again
    if (bar.ts_changed) out.push_back(V.tokens[static_cast<std::size_t>(remi_first_id(RemiKind::kTimeSig) + bar.ts)]);
    if (opt.keys) {
      int k = bar_index < bar_keys.size() ? bar_keys[bar_index] : (bar_keys.empty() ? 0 : bar_keys.back());
      out.push_back(V.tokens[static_cast<std::size_t>(remi_first_id(RemiKind::kKey) + k)]);
    }
    if (opt.instruments && bar_index == 0) {  // the header: the piece's instruments, ascending
      std::vector<bool> used(kDrums + 1, false);
      for (const auto& n : g.notes) used[static_cast<std::size_t>(n.instrument)] = true;
      for (int i = 0; i <= kDrums; ++i) if (used[static_cast<std::size_t>(i)]) out.push_back(V.tokens[static_cast<std::size_t>(remi_first_id(RemiKind::kProgram) + i)]);
    }
    if (bar_index < layout.holes.size() && layout.holes[bar_index]) out.push_back("Hole");
    ++bar_index;
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
        const auto u = static_cast<std::size_t>(n.instrument);
        if (n.instrument == kDrums) {
          out.push_back(fmt::format("Drum_{}", n.pitch));
        } else {
          if (opt.instruments && n.instrument != program) out.push_back(fmt::format("Program_{}", n.instrument));
          program = n.instrument;
          out.push_back(fmt::format("Pitch_{}", n.pitch));
        }
        if (!opt.compact || n.velocity_bin != velocity[u]) out.push_back(fmt::format("Velocity_{}", velocity_value(n.velocity_bin)));
        velocity[u] = n.velocity_bin;
        if (n.instrument == kDrums) continue;
        if (!opt.compact || n.duration_index != duration[u]) out.push_back(fmt::format("Duration_{}", durations_table()[static_cast<std::size_t>(n.duration_index)]));
        duration[u] = n.duration_index;
      }
    }
  }
  return out;
}

namespace {

bool is_repeat(const std::string& t) { return t.rfind("Repeat_", 0) == 0; }
bool is_position(const std::string& t) { return t.rfind("Position_", 0) == 0; }

/// A sequence as bars: each bar's opening (from its Bar up to its first Position) and its body.
struct SplitBar {
  std::vector<std::string> opening, body;
};

std::vector<SplitBar> split_bars(const std::vector<std::string>& tokens) {
  std::vector<SplitBar> bars;
  for (const auto& t : tokens) {
    if (t == "Bar" || bars.empty()) bars.emplace_back();
    SplitBar& b = bars.back();
    if (b.body.empty() && !is_position(t)) b.opening.push_back(t);
    else b.body.push_back(t);
  }
  return bars;
}

}  // namespace

std::vector<std::string> remi_expand_repeats(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  std::vector<std::vector<std::string>> bodies;  // of the bars so far, written out
  std::size_t bar_begin = 0;                     // index in `out` of the current bar's Bar
  bool in_body = false, repeated = false;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "Bar") {
      if (!out.empty()) bodies.emplace_back();
      if (!bodies.empty()) {
        std::size_t from = bar_begin;
        while (from < out.size() && !is_position(out[from])) ++from;
        bodies.back().assign(out.begin() + static_cast<long>(from), out.end());
      }
      bar_begin = out.size();
      in_body = repeated = false;
      out.push_back(t);
      continue;
    }
    if (repeated) throw Error(fmt::format("token {}: '{}' after a Repeat (a repeated bar ends there)", i, t));
    if (!is_repeat(t)) {
      in_body = in_body || is_position(t);
      out.push_back(t);
      continue;
    }
    const int k = std::atoi(t.c_str() + 7);
    if (out.empty() || in_body) throw Error(fmt::format("token {}: '{}' must come right after a bar's opening", i, t));
    if (k < 1 || static_cast<std::size_t>(k) > bodies.size() || bodies[bodies.size() - static_cast<std::size_t>(k)].empty()) {
      throw Error(fmt::format("token {}: '{}' points at no earlier bar with notes", i, t));
    }
    const auto body = bodies[bodies.size() - static_cast<std::size_t>(k)];
    out.insert(out.end(), body.begin(), body.end());
    repeated = true;
  }
  return out;
}

std::vector<std::string> remi_collapse_repeats(const std::vector<std::string>& tokens) {
  std::vector<SplitBar> bars = split_bars(tokens);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    out.insert(out.end(), bars[i].opening.begin(), bars[i].opening.end());
    int k = 0;
    for (std::size_t d = 1; !bars[i].body.empty() && d <= std::min<std::size_t>(i, RemiSettings::kMaxRepeat) && !k; ++d) {
      if (bars[i - d].body == bars[i].body) k = static_cast<int>(d);
    }
    if (k) out.push_back(fmt::format("Repeat_{}", k));
    else out.insert(out.end(), bars[i].body.begin(), bars[i].body.end());
  }
  return out;
}

Score remi_decode(const std::vector<std::string>& tokens, const RemiOptions& opt) {
  if (opt.repeats) return remi_decode(remi_expand_repeats(tokens), written_out(opt));  // token indices: of the bars written out
  const auto& V = vocab();
  Score s;
  s.ticks_per_quarter = 480;
  RemiGrammar grammar(opt);
  std::int64_t bar_start = 0, bar_len = 0;
  bool any_bar = false;
  Note pending;
  bool open = false;  // a note whose Velocity/Duration may still follow
  int key = -1;
  std::vector<int> velocity(kDrums + 1, -1), duration(kDrums + 1, -1);  // per instrument
  bool stated = false;  // plain REMI: the open note's own values were seen
  auto flush = [&] {
    // A note cut off before its values (a truncated sequence) is dropped, as it cannot sound.
    const bool drum = pending.drum();
    const auto u = static_cast<std::size_t>(drum ? kDrums : (opt.instruments ? pending.program : 0));
    if (!open || velocity[u] < 0 || (!drum && duration[u] < 0) || (!opt.compact && !stated)) {
      open = false;
      return;
    }
    pending.velocity = velocity_value(velocity[u]);
    if (!drum) pending.end_tick = pending.start_tick + static_cast<std::uint64_t>(durations_table()[static_cast<std::size_t>(duration[u])]) * kTicksPerGrid;
    s.notes.push_back(pending);
    open = false;
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto it = V.ids.find(tokens[i]);
    const RemiKind found = it == V.ids.end() ? RemiKind::kBar : remi_kind(it->second);
    const bool instrument_token = found == RemiKind::kProgram || found == RemiKind::kDrum;
    if (it == V.ids.end() || (!opt.keys && found == RemiKind::kKey) || (!opt.instruments && instrument_token)) {
      throw Error(fmt::format("token {}: '{}' is not a REMI token{}", i, tokens[i],
                              it == V.ids.end() ? "" : found == RemiKind::kKey ? " (this corpus has no keys)" : " (this corpus has no instruments)"));
    }
    int id = it->second;
    if (!grammar.feed(id)) throw Error(fmt::format("token {}: '{}' cannot follow '{}'", i, tokens[i], i ? tokens[i - 1] : "the start"));
    int val = remi_value(id);
    const RemiKind kind = remi_kind(id);
    if (kind != RemiKind::kVelocity && kind != RemiKind::kDuration) flush();
    switch (kind) {
      case RemiKind::kBar:
        if (any_bar) bar_start += bar_len;
        any_bar = true;
        bar_len = grammar.bar_length();
        break;
      case RemiKind::kTimeSig:
        bar_len = grammar.bar_length();
        s.time_signatures.push_back({static_cast<std::uint64_t>(bar_start) * kTicksPerGrid, time_sig_table()[val].first, time_sig_table()[val].second});
        break;
      case RemiKind::kKey:
        if (val != key) {
          // As a key signature: the major key's sharps (a minor key's relative major's), -5..6.
          int major_tonic = val >= 12 ? (val % 12 + 3) % 12 : val;
          int sharps = (major_tonic * 7) % 12;
          if (sharps > 6) sharps -= 12;
          s.key_signatures.push_back({static_cast<std::uint64_t>(bar_start) * kTicksPerGrid, sharps, val >= 12});
        }
        key = val;
        break;
      case RemiKind::kPosition:
        break;
      case RemiKind::kTempo:
        s.tempos.push_back({static_cast<std::uint64_t>(bar_start + grammar.position()) * kTicksPerGrid, tempo_us(val)});
        break;
      case RemiKind::kProgram:
        break;  // the grammar keeps the bar's program
      case RemiKind::kPitch:
      case RemiKind::kDrum:
        pending = Note{};
        pending.pitch = val;
        pending.start_tick = static_cast<std::uint64_t>(bar_start + grammar.position()) * kTicksPerGrid;
        if (kind == RemiKind::kDrum) pending.channel = 9;
        else if (opt.instruments) pending.program = grammar.instrument();
        open = true;
        stated = false;
        break;
      case RemiKind::kVelocity:
        velocity[static_cast<std::size_t>(grammar.instrument())] = val;
        stated = pending.drum();
        break;
      case RemiKind::kDuration:
        duration[static_cast<std::size_t>(grammar.instrument())] = val;
        stated = true;
        break;
      case RemiKind::kFill:
      case RemiKind::kRepeat: break;  // the grammar refused it above
    }
  }
  flush();
  finish_parts(s.notes);
  return s;
}

std::optional<std::vector<int>> remi_transpose(const std::vector<int>& ids, int semitones) {
  std::vector<int> out = ids;
  const int key0 = remi_first_id(RemiKind::kKey);
  for (int& id : out) {
    if (remi_kind(id) == RemiKind::kKey) {
      int k = id - key0;
      id = key0 + ((k % 12 + semitones) % 12 + 12) % 12 + (k >= 12 ? 12 : 0);
      continue;
    }
    if (remi_kind(id) != RemiKind::kPitch) continue;
    int p = remi_value(id) + semitones;
    if (p < RemiSettings::kMinPitch || p > RemiSettings::kMaxPitch) return std::nullopt;
    id += semitones;
  }
  return out;
}

// --- Grammar

bool RemiGrammar::expects_key() const {
  if (!opt_.keys) return false;
  if (state_ == State::kAfterTimeSig) return true;
  return state_ == State::kAfterBar && ts_index_ >= 0;  // the first bar states its time signature first
}

void RemiGrammar::allow_kind(std::vector<bool>& a, RemiKind kind, int except, int from) const {
  for (int i = from; i < remi_count(kind); ++i) {
    if (i != except) a[static_cast<std::size_t>(remi_first_id(kind) + i)] = true;
  }
}

void RemiGrammar::allow_programs(std::vector<bool>& a, int from, int except) const {
  for (int p = from; p < RemiSettings::kDrums; ++p) {
    if (p != except && declared_[static_cast<std::size_t>(p)]) a[static_cast<std::size_t>(remi_first_id(RemiKind::kProgram) + p)] = true;
  }
}

void RemiGrammar::allow_drums(std::vector<bool>& a, int from) const {
  if (declared_[RemiSettings::kDrums]) allow_kind(a, RemiKind::kDrum, -1, from);
}

void RemiGrammar::allow_header(std::vector<bool>& a) const {
  // Ascending instruments, at most kMaxPitchedParts programs, then the first position.
  const int pitched = static_cast<int>(std::count(declared_.begin(), declared_.end() - 1, true));
  const int from = header_last_ + 1;
  for (int p = from; p <= RemiSettings::kDrums; ++p) {
    if (p < RemiSettings::kDrums && pitched >= RemiSettings::kMaxPitchedParts) continue;
    a[static_cast<std::size_t>(remi_first_id(RemiKind::kProgram) + p)] = true;
  }
  if (header_last_ >= 0) a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition))] = true;
}

void RemiGrammar::allow_notes_at_onset(std::vector<bool>& a) const {
  // The first note of a position: any pitch of the bar's program (without instruments: any
  // pitch), another of the declared programs, or a drum if the piece has drums.
  if (!opt_.instruments || program_ >= 0) allow_kind(a, RemiKind::kPitch);
  if (!opt_.instruments) return;
  allow_programs(a, 0, program_);
  allow_drums(a, 0);
}

void RemiGrammar::allow_note_end(std::vector<bool>& a) const {
  // Notes of a position come in order of (instrument, pitch), drums last.
  if (onset_instrument_ < 0) {
    allow_notes_at_onset(a);
  } else if (onset_instrument_ == RemiSettings::kDrums) {
    allow_drums(a, last_drum_ - RemiSettings::kMinDrum + 1);
  } else {
    allow_kind(a, RemiKind::kPitch, -1, std::max(0, last_pitch_ - RemiSettings::kMinPitch + 1));
    if (opt_.instruments) {
      allow_programs(a, onset_instrument_ + 1, -1);
      allow_drums(a, 0);
    }
  }
  allow_kind(a, RemiKind::kPosition, -1, pos_ + 1);
  for (int p = bar_len_; p < remi_count(RemiKind::kPosition); ++p) a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition) + p)] = false;
  a[static_cast<std::size_t>(remi_first_id(RemiKind::kBar))] = true;
}

const std::vector<int>& RemiGrammar::repeat_body(int k) const {
  static const std::vector<int> kNone;
  if (k < 1 || static_cast<std::size_t>(k) > bodies_.size()) return kNone;
  return bodies_[bodies_.size() - static_cast<std::size_t>(k)];
}

bool RemiGrammar::could_repeat() const {
  const bool after_opening = opt_.keys ? state_ == State::kAfterKey : (state_ == State::kAfterBar || state_ == State::kAfterTimeSig);
  return opt_.repeats && after_opening && pos_ < 0 && tempo_index_ >= 0 && !in_header() && !bodies_.empty();
}

// Repeat_k may come where the bar's first Position could, for the nearest of equal bodies,
// when the body is valid in this bar's state (a bar written out the same way would be): as
// feed_repeat decides.
void RemiGrammar::allow_repeats(std::vector<bool>& a) const {
  for (int k = 1; k <= static_cast<int>(std::min<std::size_t>(bodies_.size(), RemiSettings::kMaxRepeat)); ++k) {
    RemiGrammar g = *this;
    if (g.feed_repeat(k)) a[static_cast<std::size_t>(remi_first_id(RemiKind::kRepeat) + k - 1)] = true;
  }
}

void RemiGrammar::allowed(std::vector<bool>& a) const {
  allowed_written(a);
  if (!opt_.repeats) return;
  const auto bar = static_cast<std::size_t>(remi_first_id(RemiKind::kBar));
  if (state_ == State::kAfterRepeat) {
    std::fill(a.begin(), a.end(), false);
    a[bar] = true;
    return;
  }
  if (could_repeat()) allow_repeats(a);
  // A bar written out as one of the last kMaxRepeat is a Repeat: it may not end so.
  if (a[bar] && !body_.empty() && std::find(bodies_.begin(), bodies_.end(), body_) != bodies_.end()) a[bar] = false;
}

void RemiGrammar::allowed_written(std::vector<bool>& a) const {
  const int V = static_cast<int>(vocab().tokens.size());
  a.assign(static_cast<std::size_t>(V), false);
  auto allow_positions_after = [&](int from) {
    for (int p = from; p < bar_len_; ++p) a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition) + p)] = true;
  };
  const int bar = remi_first_id(RemiKind::kBar);
  // What may follow the bar's opening (Bar, TimeSig, Key): the piece states its tempo at its first position.
  auto after_opening = [&] {
    if (in_header()) {
      allow_header(a);
      return;
    }
    if (tempo_index_ < 0) {
      a[static_cast<std::size_t>(remi_first_id(RemiKind::kPosition))] = true;
      return;
    }
    a[static_cast<std::size_t>(bar)] = true;
    allow_positions_after(0);
  };
  const auto u = static_cast<std::size_t>(std::max(0, note_instrument_));
  const bool drum = note_instrument_ == RemiSettings::kDrums;
  switch (state_) {
    case State::kStart: a[static_cast<std::size_t>(bar)] = true; break;
    case State::kAfterBar:
      if (ts_index_ < 0) {  // the first bar states its time signature
        allow_kind(a, RemiKind::kTimeSig);
        break;
      }
      allow_kind(a, RemiKind::kTimeSig, ts_index_);
      if (opt_.keys) {
        allow_kind(a, RemiKind::kKey);
        break;
      }
      a[static_cast<std::size_t>(bar)] = true;
      allow_positions_after(0);
      break;
    case State::kAfterTimeSig:
      if (opt_.keys) allow_kind(a, RemiKind::kKey);
      else after_opening();
      break;
    case State::kAfterKey:
    case State::kHeader: after_opening(); break;
    case State::kAfterPosition:
      allow_kind(a, RemiKind::kTempo, tempo_index_);
      if (tempo_index_ >= 0) allow_notes_at_onset(a);
      break;
    case State::kAfterTempo: allow_note_end(a); break;  // no note yet at this position
    case State::kAfterProgram: allow_kind(a, RemiKind::kPitch); break;
    case State::kAfterPitch:
    case State::kAfterDrum:
      if (!opt_.compact) {
        allow_kind(a, RemiKind::kVelocity);
        break;
      }
      // Compact: a Velocity only if it changes, a Duration only if it changes; an instrument's first states both.
      allow_kind(a, RemiKind::kVelocity, velocity_[u]);
      if (velocity_[u] < 0) break;
      if (drum) {
        allow_note_end(a);
        break;
      }
      allow_kind(a, RemiKind::kDuration, duration_[u]);
      if (duration_[u] >= 0) allow_note_end(a);
      break;
    case State::kAfterVelocity:
      if (drum) {
        allow_note_end(a);
        break;
      }
      allow_kind(a, RemiKind::kDuration, opt_.compact ? duration_[u] : -1);
      if (opt_.compact && duration_[u] >= 0) allow_note_end(a);
      break;
    case State::kAfterDuration: allow_note_end(a); break;
    case State::kAfterRepeat: break;  // see allowed()
  }
}

bool RemiGrammar::feed(int id) {
  if (id < 0 || id >= static_cast<int>(vocab().tokens.size())) return false;
  if (remi_kind(id) == RemiKind::kRepeat) return feed_repeat(remi_value(id));
  std::vector<bool> a;
  allowed(a);
  if (!a[static_cast<std::size_t>(id)]) return false;
  apply(id);
  return true;
}

bool RemiGrammar::feed_repeat(int k) {
  const auto& body = repeat_body(k);
  if (!could_repeat() || body.empty()) return false;
  for (int j = 1; j < k; ++j) {
    if (repeat_body(j) == body) return false;  // the nearest equal bar is the one named
  }
  RemiGrammar g = *this;
  std::vector<bool> a;
  for (int id : body) {
    g.allowed_written(a);
    if (!a[static_cast<std::size_t>(id)]) return false;
    g.apply(id);
  }
  *this = std::move(g);
  state_ = State::kAfterRepeat;
  return true;
}

void RemiGrammar::apply(int id) {
  const int val = remi_value(id);
  const RemiKind kind = remi_kind(id);
  if (opt_.repeats) {
    if (kind == RemiKind::kBar && bars_ > 0) {
      bodies_.push_back(std::move(body_));
      if (bodies_.size() > static_cast<std::size_t>(RemiSettings::kMaxRepeat)) bodies_.erase(bodies_.begin());
      body_.clear();
    } else if (kind != RemiKind::kBar && (kind == RemiKind::kPosition || !body_.empty())) {
      body_.push_back(id);
    }
  }
  switch (kind) {
    case RemiKind::kBar:
      state_ = State::kAfterBar;
      pos_ = -1;
      program_ = -1;
      ++bars_;
      break;
    case RemiKind::kTimeSig:
      ts_index_ = val;
      bar_len_ = bar_grid(val);
      state_ = State::kAfterTimeSig;
      break;
    case RemiKind::kKey:
      key_index_ = val;
      state_ = State::kAfterKey;
      break;
    case RemiKind::kPosition:
      header_done_ = true;
      pos_ = val;
      last_pitch_ = -1;
      last_drum_ = -1;
      onset_instrument_ = -1;
      state_ = State::kAfterPosition;
      break;
    case RemiKind::kTempo:
      tempo_index_ = val;
      state_ = State::kAfterTempo;
      break;
    case RemiKind::kProgram:
      if (in_header()) {
        declared_[static_cast<std::size_t>(val)] = true;
        header_last_ = val;
        state_ = State::kHeader;
        break;
      }
      program_ = val;
      last_pitch_ = -1;
      state_ = State::kAfterProgram;
      break;
    case RemiKind::kPitch:
      last_pitch_ = val;
      note_instrument_ = opt_.instruments ? program_ : 0;
      onset_instrument_ = note_instrument_;
      state_ = State::kAfterPitch;
      break;
    case RemiKind::kDrum:
      last_drum_ = val;
      note_instrument_ = RemiSettings::kDrums;
      onset_instrument_ = note_instrument_;
      state_ = State::kAfterDrum;
      break;
    case RemiKind::kVelocity:
      velocity_[static_cast<std::size_t>(note_instrument_)] = val;
      state_ = State::kAfterVelocity;
      break;
    case RemiKind::kDuration:
      duration_[static_cast<std::size_t>(note_instrument_)] = val;
      state_ = State::kAfterDuration;
      break;
    case RemiKind::kFill:
    case RemiKind::kRepeat: break;  // never allowed (see allowed()); a Repeat is fed by feed_repeat
  }
}

}  // namespace arioso::music
