// The classic (tutorial) tokenizer. The music21 reading is a literal port of
// ../shared/music21/m21v5_tokens.py, which reproduces music21 5.x; quantities that music21
// holds as Fractions are exact integers here (quantized offsets are whole twelfths of a quarter).
#include "music/classic.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "music/pitch.h"

namespace arioso::music {

namespace {

/// music21 Stream.quantize with quarterLengthDivisors (4, 3) of `ticks / tpq` quarter notes:
/// the nearest multiple of 1/4 or of 1/3 (an exact half-unit rounds down); the smaller error
/// wins, a tie takes the smaller value. Returns twelfths of a quarter note.
std::int64_t quantize_twelfths(std::int64_t ticks, std::int64_t tpq) {
  std::int64_t best_m12 = 0, best_err_num = 0, best_err_den = 1;
  bool have = false;
  for (std::int64_t d : {4, 3}) {
    std::int64_t fl = (ticks * d) / tpq;  // ticks >= 0
    std::int64_t rem = ticks * d - fl * tpq;
    std::int64_t m = 2 * rem <= tpq ? fl : fl + 1;
    std::int64_t err = std::abs(ticks * d - m * tpq);  // error = err / (tpq * d)
    std::int64_t m12 = m * (12 / d);
    if (!have || err * best_err_den < best_err_num * d ||
        (err * best_err_den == best_err_num * d && m12 < best_m12)) {
      best_m12 = m12;
      best_err_num = err;
      best_err_den = d;
      have = true;
    }
  }
  return best_m12;
}

struct RawNote {
  std::int64_t start, end;
  int pitch;
};

struct Element {
  std::int64_t offset12;    // quantized offset, twelfths of a quarter
  std::int64_t duration12;  // quantized duration
  std::string token;
};

/// music21's chord grouping (see README section 2) over notes in note-on order, then quantization.
std::vector<Element> group_chords(const std::vector<RawNote>& notes, std::int64_t tpq) {
  std::vector<Element> elems;
  std::vector<bool> gathered(notes.size(), false);
  for (std::size_t k = 0; k < notes.size(); ++k) {
    if (gathered[k]) continue;
    const RawNote& a = notes[k];
    std::vector<int> chord;
    for (std::size_t j = k + 1; j < notes.size(); ++j) {
      const RawNote& b = notes[j];
      if (16 * std::abs(b.start - a.start) <= tpq) {       // onsets within tol = tpq/16
        if (16 * std::abs(b.end - a.end) > tpq) continue;  // ends differ: stays separate
        if (chord.empty()) {
          chord.push_back(a.pitch);
          gathered[k] = true;
        }
        chord.push_back(b.pitch);
        gathered[j] = true;
      } else {
        break;
      }
    }
    std::int64_t off = quantize_twelfths(a.start, tpq);
    std::int64_t ql = a.end != a.start ? quantize_twelfths(a.end - a.start, tpq) : 12;  // zero length: 1 quarter
    elems.push_back({off, ql, chord.empty() ? pitch_name(a.pitch) : chord_token(chord)});
  }
  return elems;
}

struct Part {
  std::vector<Element> elems;
  std::vector<std::pair<std::int64_t, int>> insts;  // (quantized offset, instrument group id)
};

/// Instrument group of a program: music21 5.x names it (program_names_v5.json); programs with
/// no name map to a generic Instrument and all group together. The names' equivalence classes
/// are encoded here as group ids: equal id = equal music21 instrument name.
int instrument_group(int program) {
  // Programs music21 5.x does not name (null in program_names_v5.json) share group -1.
  static const int kGroup[128] = {
#include "music/program_groups.inc"
  };
  return kGroup[program & 0x7F];
}

}  // namespace

std::vector<std::string> classic_tokens_music21(const midi::MidiFile& file) {
  if (file.division.smpte) throw Error("music21 compatibility needs ticks-per-quarter division, not SMPTE");
  const std::int64_t tpq = file.division.ticks_per_quarter;
  std::vector<Part> parts;
  for (const auto& track : file.tracks) {
    const auto& ev = track.events;
    bool has_note = std::any_of(ev.begin(), ev.end(), [](const midi::Event& e) { return e.is_channel() && e.is_note_on(); });
    if (!has_note) continue;
    Part part;
    std::vector<RawNote> notes;
    std::vector<bool> used(ev.size(), false);
    for (std::size_t i = 0; i < ev.size(); ++i) {
      const midi::Event& e = ev[i];
      if (used[i] || !e.is_channel()) continue;
      if (e.kind() == 0xC0) {
        part.insts.emplace_back(quantize_twelfths(static_cast<std::int64_t>(e.tick), tpq), instrument_group(e.data1));
        continue;
      }
      if (e.kind() == 0x90 && e.data2 != 0) {
        // music21 < 6.3: ANY later unused note-on or note-off of the same pitch and channel ends it.
        for (std::size_t j = i + 1; j < ev.size(); ++j) {
          const midi::Event& f = ev[j];
          if (!used[j] && f.is_channel() && (f.kind() == 0x80 || f.kind() == 0x90) && f.channel() == e.channel() &&
              f.data1 == e.data1) {
            used[j] = true;
            notes.push_back({static_cast<std::int64_t>(e.tick), static_cast<std::int64_t>(f.tick), e.data1});
            break;
          }
        }
      }
    }
    part.elems = group_chords(notes, tpq);
    parts.push_back(std::move(part));
  }
  using Key = std::tuple<std::int64_t, std::size_t, std::size_t>;  // (offset, part, element)
  std::vector<std::pair<Key, const std::string*>> out;
  bool any_inst = std::any_of(parts.begin(), parts.end(), [](const Part& p) { return !p.insts.empty(); });
  if (!any_inst) {  // partitionByInstrument() returns None: all notes of all parts
    for (std::size_t pi = 0; pi < parts.size(); ++pi) {
      for (std::size_t n = 0; n < parts[pi].elems.size(); ++n) out.push_back({{parts[pi].elems[n].offset12, pi, n}, &parts[pi].elems[n].token});
    }
  } else {
    int first = 0;
    for (auto& p : parts) {
      if (p.insts.empty()) continue;
      auto sorted = p.insts;
      std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      first = sorted.front().second;
      break;
    }
    for (std::size_t pi = 0; pi < parts.size(); ++pi) {
      Part& p = parts[pi];
      if (p.elems.empty()) continue;
      std::stable_sort(p.insts.begin(), p.insts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      std::int64_t highest = 0;
      for (const auto& e : p.elems) highest = std::max(highest, e.offset12 + e.duration12);
      for (std::size_t ii = 0; ii < p.insts.size(); ++ii) {
        std::int64_t begin = p.insts[ii].first;
        std::int64_t end = ii + 1 < p.insts.size() ? p.insts[ii + 1].first : highest;
        if (p.insts[ii].second != first) continue;
        for (std::size_t n = 0; n < p.elems.size(); ++n) {
          if (begin <= p.elems[n].offset12 && p.elems[n].offset12 < end) out.push_back({{p.elems[n].offset12, pi, n}, &p.elems[n].token});
        }
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> tokens;
  tokens.reserve(out.size());
  for (auto& o : out) tokens.push_back(*o.second);
  return tokens;
}

std::vector<std::string> classic_tokens(const Score& score) {
  std::vector<RawNote> notes;
  notes.reserve(score.notes.size());
  for (const auto& n : score.notes) {
    notes.push_back({static_cast<std::int64_t>(n.start_tick), static_cast<std::int64_t>(n.end_tick), n.pitch});
  }
  auto elems = group_chords(notes, score.ticks_per_quarter);
  std::stable_sort(elems.begin(), elems.end(), [](const Element& a, const Element& b) { return a.offset12 < b.offset12; });
  std::vector<std::string> tokens;
  tokens.reserve(elems.size());
  for (auto& e : elems) tokens.push_back(std::move(e.token));
  return tokens;
}

static std::optional<std::vector<int>> parse_chord(const std::string& t) {
  std::vector<int> pcs;
  std::size_t i = 0;
  while (i < t.size()) {
    std::size_t j = i;
    while (j < t.size() && t[j] >= '0' && t[j] <= '9') ++j;
    if (j == i || j - i > 2) return std::nullopt;
    int pc = std::stoi(t.substr(i, j - i));
    if (pc > 11) return std::nullopt;
    pcs.push_back(pc);
    if (j < t.size() && t[j] != '.') return std::nullopt;
    i = j + 1;
    if (j + 1 == t.size()) return std::nullopt;  // trailing dot
  }
  if (pcs.empty()) return std::nullopt;
  return pcs;
}

Score classic_decode(const std::vector<std::string>& tokens, int velocity) {
  Score s;
  s.ticks_per_quarter = 480;
  const std::uint64_t step = 240, length = 480;  // 0.5 quarter apart, one quarter long
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::uint64_t start = i * step;
    auto add = [&](int pitch) {
      Note n;
      n.start_tick = start;
      n.end_tick = start + length;
      n.pitch = pitch;
      n.velocity = velocity;
      s.notes.push_back(n);
    };
    if (auto p = parse_pitch_name(tokens[i])) {
      add(*p);
    } else if (auto pcs = parse_chord(tokens[i])) {
      std::set<int> unique(pcs->begin(), pcs->end());
      for (int pc : unique) add(60 + pc);  // chords in octave 4
    } else {
      throw Error(fmt::format("token {}: '{}' is neither a pitch name nor a chord", i, tokens[i]));
    }
  }
  s.tempos = {TempoChange{0, 500000}};
  return s;
}

}  // namespace arioso::music
