// Note pairing and timing; see notes.h for the rules.
#include "midi/notes.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <tuple>

namespace arioso::midi {

namespace {
struct ProgramChange {
  std::uint64_t tick;
  int track;
  std::size_t index;
  int program;
};
}  // namespace

std::vector<Note> extract_notes(const MidiFile& file, NoteStats* stats) {
  NoteStats local;
  NoteStats& st = stats ? *stats : local;
  // Program changes per channel, ordered by (tick, track, index) so the last one at or before
  // a note's tick is found by binary search.
  std::array<std::vector<ProgramChange>, 16> programs;
  for (std::size_t ti = 0; ti < file.tracks.size(); ++ti) {
    const auto& ev = file.tracks[ti].events;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      if (ev[i].is_channel() && ev[i].kind() == 0xC0) {
        programs[ev[i].channel()].push_back({ev[i].tick, static_cast<int>(ti), i, ev[i].data1});
      }
    }
  }
  for (auto& v : programs) {
    std::stable_sort(v.begin(), v.end(), [](const ProgramChange& a, const ProgramChange& b) {
      return std::tie(a.tick, a.track, a.index) < std::tie(b.tick, b.track, b.index);
    });
  }
  auto program_at = [&](int channel, std::uint64_t tick, int track) {
    const auto& v = programs[channel];
    int prog = 0;
    for (const auto& pc : v) {  // short lists: a linear scan is fastest
      if (pc.tick > tick) break;
      if (file.format == 2 && pc.track != track) continue;
      prog = pc.program;
    }
    return prog;
  };

  std::vector<Note> notes;
  for (std::size_t ti = 0; ti < file.tracks.size(); ++ti) {
    const auto& ev = file.tracks[ti].events;
    // Open notes per (channel, pitch): first in, first out.
    std::map<int, std::deque<std::size_t>> open;
    std::uint64_t last_tick = ev.empty() ? 0 : ev.back().tick;
    for (const Event& e : ev) {
      if (!e.is_channel()) continue;
      int key = e.channel() * 128 + e.data1;
      if (e.is_note_on()) {
        Note n;
        n.start_tick = e.tick;
        n.end_tick = e.tick;
        n.pitch = e.data1;
        n.velocity = e.data2;
        n.channel = e.channel();
        n.track = static_cast<int>(ti);
        n.program = program_at(n.channel, e.tick, n.track);
        open[key].push_back(notes.size());
        notes.push_back(n);
      } else if (e.is_note_off()) {
        auto it = open.find(key);
        if (it == open.end() || it->second.empty()) {
          ++st.orphan_offs;
          continue;
        }
        Note& n = notes[it->second.front()];
        it->second.pop_front();
        n.end_tick = e.tick;
        if (n.end_tick == n.start_tick) ++st.zero_length;
      }
    }
    // A note still sounding at the end of its track ends there.
    for (auto& [key, q] : open) {
      for (std::size_t idx : q) {
        notes[idx].end_tick = last_tick;
        ++st.unterminated;
        if (notes[idx].end_tick == notes[idx].start_tick) ++st.zero_length;
      }
    }
  }
  std::stable_sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.start_tick, a.track, a.pitch, a.channel) < std::tie(b.start_tick, b.track, b.pitch, b.channel);
  });
  return notes;
}

static std::vector<TempoChange> collect_tempos(const MidiFile& file) {
  std::vector<TempoChange> ch;
  for (const auto& t : file.tracks) {
    for (const auto& e : t.events) {
      if (e.is_meta() && e.meta_type == kMetaTempo && e.payload.size() == 3) {
        std::uint32_t us = (std::uint32_t{e.payload[0]} << 16) | (std::uint32_t{e.payload[1]} << 8) | e.payload[2];
        if (us > 0) ch.push_back({e.tick, us});
      }
    }
  }
  return ch;
}

TempoMap::TempoMap(const MidiFile& file)
    : TempoMap(collect_tempos(file), file.division.smpte ? 1 : file.division.ticks_per_quarter) {
  // With SMPTE division, ticks are fixed fractions of a second and tempo events do not apply.
  if (file.division.smpte) {
    double fps = file.division.frames_per_second == 29 ? 29.97 : file.division.frames_per_second;
    sec_per_tick_smpte_ = 1.0 / (fps * file.division.ticks_per_frame);
  }
}

TempoMap::TempoMap(std::vector<TempoChange> changes, int ticks_per_quarter) : tpq_(ticks_per_quarter) {
  std::stable_sort(changes.begin(), changes.end(),
                   [](const TempoChange& a, const TempoChange& b) { return a.tick < b.tick; });
  for (const auto& c : changes) {
    if (!changes_.empty() && changes_.back().tick == c.tick) changes_.back() = c;  // last at a tick wins
    else changes_.push_back(c);
  }
  if (changes_.empty() || changes_.front().tick != 0) changes_.insert(changes_.begin(), TempoChange{0, 500000});
  start_sec_.resize(changes_.size());
  start_sec_[0] = 0;
  for (std::size_t i = 1; i < changes_.size(); ++i) {
    start_sec_[i] = start_sec_[i - 1] + static_cast<double>(changes_[i].tick - changes_[i - 1].tick) *
                                            changes_[i - 1].us_per_quarter / 1e6 / tpq_;
  }
}

double TempoMap::seconds(std::uint64_t tick) const {
  if (sec_per_tick_smpte_ > 0) return static_cast<double>(tick) * sec_per_tick_smpte_;
  if (changes_.empty()) return static_cast<double>(tick) * 0.5 / tpq_;
  auto it = std::upper_bound(changes_.begin(), changes_.end(), tick,
                             [](std::uint64_t t, const TempoChange& c) { return t < c.tick; });
  std::size_t i = static_cast<std::size_t>(it - changes_.begin()) - 1;
  return start_sec_[i] + static_cast<double>(tick - changes_[i].tick) * changes_[i].us_per_quarter / 1e6 / tpq_;
}

std::uint64_t TempoMap::tick_at(double sec) const {
  if (sec <= 0) return 0;
  if (sec_per_tick_smpte_ > 0) return static_cast<std::uint64_t>(sec / sec_per_tick_smpte_);
  if (changes_.empty()) return static_cast<std::uint64_t>(sec * tpq_ / 0.5);
  std::size_t i = static_cast<std::size_t>(std::upper_bound(start_sec_.begin(), start_sec_.end(), sec) - start_sec_.begin()) - 1;
  double rest = sec - start_sec_[i];
  return changes_[i].tick + static_cast<std::uint64_t>(rest * 1e6 * tpq_ / changes_[i].us_per_quarter);
}

std::vector<TimeSignature> time_signatures(const MidiFile& file) {
  std::vector<TimeSignature> out;
  for (const auto& t : file.tracks) {
    for (const auto& e : t.events) {
      if (e.is_meta() && e.meta_type == kMetaTimeSignature && e.payload.size() == 4 && e.payload[0] > 0 &&
          e.payload[1] <= 6) {
        out.push_back({e.tick, e.payload[0], 1 << e.payload[1]});
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  return out;
}

std::vector<KeySignature> key_signatures(const MidiFile& file) {
  std::vector<KeySignature> out;
  for (const auto& t : file.tracks) {
    for (const auto& e : t.events) {
      if (e.is_meta() && e.meta_type == kMetaKeySignature && e.payload.size() == 2) {
        auto sf = static_cast<std::int8_t>(e.payload[0]);
        if (sf < -7 || sf > 7) continue;
        out.push_back({e.tick, sf, e.payload[1] == 1});
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  return out;
}

std::uint64_t length_ticks(const MidiFile& file) {
  std::uint64_t n = 0;
  for (const auto& t : file.tracks) {
    if (!t.events.empty()) n = std::max(n, t.events.back().tick);
  }
  return n;
}

std::string track_name(const Track& track) {
  for (const auto& e : track.events) {
    if (e.is_meta() && e.meta_type == kMetaTrackName) return std::string(e.payload.begin(), e.payload.end());
  }
  return "";
}

}  // namespace arioso::midi
