// Score construction, part selection and writing; see score.h.
#include "music/score.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "music/instruments.h"
#include "music/pitch.h"

namespace arioso::music {

Beats ticks_to_beats(std::int64_t ticks, int ticks_per_quarter) {
  std::int64_t g = std::gcd(ticks, static_cast<std::int64_t>(ticks_per_quarter));
  if (g == 0) return {0, 1};
  return {ticks / g, ticks_per_quarter / g};
}

std::uint64_t Score::end_tick() const {
  std::uint64_t e = 0;
  for (const auto& n : notes) e = std::max(e, n.end_tick);
  return e;
}

std::uint64_t Score::bar_ticks_at(std::uint64_t tick) const {
  std::uint64_t num = 4, den = 4;
  for (const auto& ts : time_signatures) {
    if (ts.tick > tick) break;
    num = static_cast<std::uint64_t>(ts.numerator);
    den = static_cast<std::uint64_t>(ts.denominator);
  }
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(ticks_per_quarter) * 4 * num / den);
}

double Score::seconds(std::uint64_t tick) const { return midi::TempoMap(tempos, ticks_per_quarter).seconds(tick); }

static const char* kNames[] = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};

std::string pitch_name(int m) { return std::string(kNames[((m % 12) + 12) % 12]) + std::to_string(m / 12 - 1); }

std::optional<int> parse_pitch_name(const std::string& s) {
  if (s.empty()) return std::nullopt;
  static const int kBase[] = {9, 11, 0, 2, 4, 5, 7};  // A..G
  char c = s[0];
  if (c < 'A' || c > 'G') return std::nullopt;
  std::size_t max_acc = 1;
  while (max_acc < s.size() && (s[max_acc] == '#' || s[max_acc] == '-' || s[max_acc] == 'b')) ++max_acc;
  // '-' is both music21's flat and an octave's sign ("C-1" is MIDI 0): try the longest run of
  // accidentals first and keep the reading that spells back the same.
  std::optional<int> fallback;
  for (std::size_t i = max_acc; i >= 1; --i) {
    int pc = kBase[c - 'A'];
    for (std::size_t k = 1; k < i; ++k) pc += s[k] == '#' ? 1 : -1;
    if (i >= s.size()) continue;
    int octave = 0;
    try {
      std::size_t used = 0;
      octave = std::stoi(s.substr(i), &used);
      if (used != s.size() - i) continue;
    } catch (...) {
      continue;
    }
    int m = (octave + 1) * 12 + pc;
    if (m < 0 || m > 127) continue;
    if (pitch_name(m) == s) return m;
    if (!fallback) fallback = m;
  }
  return fallback;
}

Score score_from_midi(const midi::MidiFile& file) {
  Score s;
  auto notes = midi::extract_notes(file);
  std::vector<TempoChange> tempos = midi::TempoMap(file).changes();
  if (file.division.smpte) {
    // Ticks are fractions of a second: express them as beats at 120 BPM (0.5 s per quarter).
    double ticks_per_sec = (file.division.frames_per_second == 29 ? 30 : file.division.frames_per_second) *
                           file.division.ticks_per_frame;
    s.ticks_per_quarter = std::max(1, static_cast<int>(ticks_per_sec / 2));
    tempos = {TempoChange{0, 500000}};
  } else {
    s.ticks_per_quarter = file.division.ticks_per_quarter;
  }
  s.notes = std::move(notes);
  std::stable_sort(s.notes.begin(), s.notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.start_tick, a.pitch) < std::tie(b.start_tick, b.pitch);
  });
  s.tempos = tempos;
  s.time_signatures = midi::time_signatures(file);
  s.key_signatures = midi::key_signatures(file);
  return s;
}

std::vector<PartInfo> parts(const Score& score) {
  std::map<std::tuple<int, int, int>, std::pair<std::size_t, std::size_t>> seen;  // key -> (first index, count)
  for (std::size_t i = 0; i < score.notes.size(); ++i) {
    const Note& n = score.notes[i];
    auto [it, inserted] = seen.try_emplace({n.track, n.channel, n.program}, i, 0);
    ++it->second.second;
  }
  std::vector<std::pair<std::size_t, PartInfo>> order;
  for (const auto& [key, v] : seen) {
    PartInfo p;
    std::tie(p.track, p.channel, p.program) = key;
    p.drum = p.channel == 9;
    p.notes = v.second;
    order.emplace_back(v.first, p);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PartInfo> out;
  for (auto& o : order) out.push_back(o.second);
  return out;
}

static std::vector<bool> parse_ranges(const std::string& text, int limit, const std::string& what) {
  std::vector<bool> allowed(static_cast<std::size_t>(limit), false);
  std::stringstream in(text);
  std::string item;
  bool any = false;
  while (std::getline(in, item, ',')) {
    int lo, hi;
    char dash;
    std::stringstream is(item);
    if (!(is >> lo)) throw ConfigError(fmt::format("--parts: '{}' is not a {} number or range", item, what));
    hi = lo;
    if (is >> dash) {
      if (dash != '-' || !(is >> hi)) throw ConfigError(fmt::format("--parts: '{}' is not a {} range like 0-7", item, what));
    }
    if (lo < 0 || hi >= limit || lo > hi) {
      throw ConfigError(fmt::format("--parts: {} range '{}' outside 0-{}", what, item, limit - 1));
    }
    for (int i = lo; i <= hi; ++i) allowed[static_cast<std::size_t>(i)] = true;
    any = true;
  }
  if (!any) throw ConfigError(fmt::format("--parts: no {} given", what));
  return allowed;
}

PartSelection parse_part_selection(const std::string& text) {
  PartSelection sel;
  sel.text = text;
  if (text == "all") sel.kind = PartSelection::Kind::kAll;
  else if (text == "pitched") sel.kind = PartSelection::Kind::kPitched;
  else if (text == "first") sel.kind = PartSelection::Kind::kFirst;
  else if (text.rfind("programs=", 0) == 0) {
    sel.kind = PartSelection::Kind::kPrograms;
    sel.allowed = parse_ranges(text.substr(9), 128, "program");
  } else if (text.rfind("tracks=", 0) == 0) {
    sel.kind = PartSelection::Kind::kTracks;
    sel.allowed = parse_ranges(text.substr(7), 65536, "track");
  } else {
    throw ConfigError(fmt::format("--parts: unknown selection '{}' (use all, pitched, first, programs=0-7,40 or tracks=1,3)", text));
  }
  return sel;
}

Score select_parts(const Score& score, const PartSelection& sel) {
  Score out = score;
  out.notes.clear();
  int first_program = -1;
  if (sel.kind == PartSelection::Kind::kFirst) {
    for (const auto& p : parts(score)) {
      if (!p.drum) {
        first_program = p.program;
        break;
      }
    }
  }
  for (const Note& n : score.notes) {
    if (n.drum() && sel.kind != PartSelection::Kind::kAll) continue;
    bool keep = true;
    switch (sel.kind) {
      case PartSelection::Kind::kAll:
      case PartSelection::Kind::kPitched: break;
      case PartSelection::Kind::kFirst: keep = n.program == first_program; break;
      case PartSelection::Kind::kPrograms: keep = sel.allowed[static_cast<std::size_t>(n.program)]; break;
      case PartSelection::Kind::kTracks:
        keep = n.track < static_cast<int>(sel.allowed.size()) && sel.allowed[static_cast<std::size_t>(n.track)];
        break;
    }
    if (keep) out.notes.push_back(n);
  }
  return out;
}

midi::MidiFile score_to_midi(const Score& score) {
  midi::MidiFile f;
  f.format = 1;
  f.division.ticks_per_quarter = static_cast<std::uint16_t>(score.ticks_per_quarter);
  midi::Track meta;
  for (const auto& ts : score.time_signatures) meta.events.push_back(midi::make_time_signature(ts.tick, ts.numerator, ts.denominator));
  for (const auto& t : score.tempos) meta.events.push_back(midi::make_tempo(t.tick, t.us_per_quarter));
  for (const auto& k : score.key_signatures) {
    meta.events.push_back(midi::make_meta(k.tick, midi::kMetaKeySignature,
                                          {static_cast<std::uint8_t>(static_cast<std::int8_t>(k.sharps)), k.minor ? std::uint8_t{1} : std::uint8_t{0}}));
  }
  std::stable_sort(meta.events.begin(), meta.events.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  f.tracks.push_back(std::move(meta));
  std::map<std::pair<int, int>, std::vector<const Note*>> groups;  // (channel, program)
  for (const auto& n : score.notes) groups[{n.channel, n.program}].push_back(&n);
  for (const auto& [key, notes] : groups) {
    midi::Track t;
    struct Ev { std::uint64_t tick; int order; midi::Event e; };
    std::vector<Ev> evs;
    for (const Note* n : notes) {
      evs.push_back({n->end_tick, n->end_tick == n->start_tick ? 2 : 0, midi::make_channel(n->end_tick, 0x80, key.first, n->pitch, 0)});
      evs.push_back({n->start_tick, 1, midi::make_channel(n->start_tick, 0x90, key.first, n->pitch, n->velocity)});
    }
    // Note-offs before note-ons at one tick, so a re-struck pitch pairs correctly (a zero-length
    // note's own note-off comes after its note-on).
    std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return std::tie(a.tick, a.order) < std::tie(b.tick, b.order); });
    const std::string name = key.first == 9 ? "Drums" : program_name(key.second);
    t.events.push_back(midi::make_meta(0, midi::kMetaTrackName, std::vector<std::uint8_t>(name.begin(), name.end())));
    t.events.push_back(midi::make_channel(0, 0xC0, key.first, key.second));
    for (auto& e : evs) t.events.push_back(std::move(e.e));
    f.tracks.push_back(std::move(t));
  }
  return f;
}

}  // namespace arioso::music
