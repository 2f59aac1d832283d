// See plausibility.h. A silence counts from the end of everything sounding to the next note-on;
// it is implausible when it is longer than limits.min_silence_s and longer than all the
// piece's sounding time together (a real piece is not mostly one rest).
#include "data/plausibility.h"

#include <algorithm>

#include <fmt/format.h>

#include "midi/notes.h"

namespace arioso::data {

namespace {

struct Gap {
  std::uint64_t from = 0, to = 0;  // ticks: end of sound, next note-on
};

/// Time from the first to the last note-on, and the widest gap between consecutive note-ons.
/// (Onsets, not sounding notes: a note held across a corrupted delta time would hide the gap.)
std::pair<double, Gap> span_and_widest_gap(const midi::MidiFile& f, const midi::TempoMap& tempo, std::uint64_t* last_onset) {
  std::vector<std::uint64_t> onsets;
  for (const auto& t : f.tracks) {
    for (const auto& e : t.events) {
      if (e.is_note_on()) onsets.push_back(e.tick);
    }
  }
  std::sort(onsets.begin(), onsets.end());
  *last_onset = onsets.empty() ? 0 : onsets.back();
  if (onsets.size() < 2) return {0, Gap{}};
  Gap widest;
  double widest_s = -1;
  for (std::size_t i = 1; i < onsets.size(); ++i) {
    double g = tempo.seconds(onsets[i]) - tempo.seconds(onsets[i - 1]);
    if (g > widest_s) widest_s = g, widest = {onsets[i - 1], onsets[i]};
  }
  return {tempo.seconds(onsets.back()) - tempo.seconds(onsets.front()), widest};
}

/// Moves every event at or after `from + cut` earlier by `cut`, and those inside to `from`.
void cut_ticks(midi::MidiFile& f, std::uint64_t from, std::uint64_t cut) {
  for (auto& t : f.tracks) {
    for (auto& e : t.events) {
      if (e.tick >= from + cut) e.tick -= cut;
      else if (e.tick > from) e.tick = from;
    }
  }
}

/// The event with the longest delta time within the gap: where the corrupted delta time is.
std::pair<std::size_t, int> where(const midi::MidiFile& f, const Gap& g) {
  std::uint64_t longest = 0;
  std::pair<std::size_t, int> at{0, -1};
  for (std::size_t t = 0; t < f.tracks.size(); ++t) {
    const auto& ev = f.tracks[t].events;
    for (std::size_t i = 1; i < ev.size(); ++i) {
      if (ev[i - 1].tick >= g.to || ev[i].tick <= g.from) continue;
      if (ev[i].tick - ev[i - 1].tick > longest) {
        longest = ev[i].tick - ev[i - 1].tick;
        at = {ev[i].offset, static_cast<int>(t)};
      }
    }
  }
  return at;
}

}  // namespace

Plausibility make_plausible(midi::MidiFile& f, std::size_t recoveries, const std::string& path, const PlausibilityLimits& limits) {
  Plausibility out;
  std::size_t events = 0;
  for (const auto& t : f.tracks) events += t.events.size();
  if (recoveries > 0 && recoveries >= events - std::min(events, recoveries)) {
    out.skip = true;
    out.reason = fmt::format("{}: {} recoveries against {} clean events: too damaged to learn from", path, recoveries,
                             events - std::min(events, recoveries));
    return out;
  }
  if (f.division.smpte) return out;  // SMPTE time has no tempo to check
  for (std::size_t t = 0; t < f.tracks.size(); ++t) {
    for (const auto& e : f.tracks[t].events) {
      if (!e.is_meta() || e.meta_type != midi::kMetaTempo || e.payload.size() != 3) continue;
      std::uint32_t us = (std::uint32_t{e.payload[0]} << 16) | (std::uint32_t{e.payload[1]} << 8) | e.payload[2];
      double bpm = us ? 60e6 / us : 1e9;
      if (bpm < limits.min_bpm || bpm > limits.max_bpm) {
        out.skip = true;
        out.reason = fmt::format("{}:0x{:x}: track {}: tempo {:.3g} BPM is outside any musical range ({:g}-{:g})", path, e.offset, t, bpm,
                                 limits.min_bpm, limits.max_bpm);
        return out;
      }
    }
  }
  const std::uint64_t bar = std::uint64_t{f.division.ticks_per_quarter} * 4;
  for (int round = 0; round < 16; ++round) {
    midi::TempoMap tempo(f);
    std::uint64_t last_onset = 0;
    auto [span_s, gap] = span_and_widest_gap(f, tempo, &last_onset);
    double gap_s = tempo.seconds(gap.to) - tempo.seconds(gap.from);
    const double rest_s = span_s - gap_s;
    if (gap.to <= gap.from || gap_s <= limits.min_silence_s || gap_s <= rest_s) break;
    // Cut whole bars (of 4/4 at the file's division) and keep one more than the onsets' own
    // distance's remainder, so the meter after it is kept.
    const std::uint64_t cut = (gap.to - gap.from) / bar * bar - bar;
    if (cut == 0) break;
    auto [offset, track] = where(f, gap);
    cut_ticks(f, gap.from, cut);
    out.repairs.push_back(fmt::format("{}:0x{:x}: track {}: cut a silence of {:.0f} s (longer than the rest of the piece, {:.0f} s; "
                                      "a damaged delta time?)", path, offset, track, gap_s, rest_s));
  }
  // After the last note-on: note-offs and the end of track may have been pushed out as well.
  midi::TempoMap tempo(f);
  std::uint64_t last_onset = 0, first_onset = UINT64_MAX, end = 0;
  for (const auto& t : f.tracks) {
    for (const auto& e : t.events) {
      if (e.is_note_on()) last_onset = std::max(last_onset, e.tick), first_onset = std::min(first_onset, e.tick);
      end = std::max(end, e.tick);
    }
  }
  if (first_onset == UINT64_MAX) return out;
  const double tail_s = tempo.seconds(end) - tempo.seconds(last_onset), span_s = tempo.seconds(last_onset) - tempo.seconds(first_onset);
  const std::uint64_t keep = last_onset + 4 * bar;  // the longest note REMI holds
  if (tail_s > limits.min_silence_s && tail_s > span_s && end > keep) {
    for (auto& t : f.tracks) {
      for (auto& e : t.events) e.tick = std::min(e.tick, keep);
    }
    out.repairs.push_back(fmt::format("{}: cut {:.0f} s after the last note (longer than the piece before it, {:.0f} s)", path, tail_s, span_s));
  }
  return out;
}

}  // namespace arioso::data
