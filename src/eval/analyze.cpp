// See analyze.h.
#include "eval/analyze.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "data/corpus.h"
#include "midi/midi_file.h"
#include "music/instruments.h"

namespace arioso::eval {

PieceSet load_midi_set(const std::vector<std::string>& inputs, const std::string& parts) {
  PieceSet set;
  auto sel = music::parse_part_selection(parts);
  for (const auto& f : find_midi_files(inputs)) {
    try {
      auto file = midi::read_midi_file(f);
      AnalyzedPiece p;
      p.file = f;
      p.score = music::select_parts(music::score_from_midi(file), sel);
      set.pieces.push_back(std::move(p));
    } catch (const Error& e) {
      set.skipped.emplace_back(f, e.what());
    }
  }
  add_metrics(set);
  return set;
}

PieceSet load_corpus_set(const std::string& path) {
  PieceSet set;
  data::Corpus c = data::read_corpus(path);
  for (const auto& piece : c.pieces) {
    std::vector<std::string> tokens;
    for (auto t : piece.tokens) tokens.push_back(c.vocab.token(t));
    AnalyzedPiece p;
    p.file = piece.source;
    try {
      p.score = music::detokenize(tokens, c.tokenizer);
    } catch (const Error& e) {
      set.skipped.emplace_back(piece.source, e.what());
      continue;
    }
    set.pieces.push_back(std::move(p));
  }
  add_metrics(set);
  return set;
}

void add_metrics(PieceSet& set) {
  for (auto& p : set.pieces) {
    p.metrics = compute_metrics(p.score);
    p.onsets = onsets(p.score);
    p.symbols.clear();
    for (const auto& o : p.onsets) p.symbols.push_back(o.symbol);
  }
}

static nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

/// Per instrument (a program, 128 = drums): its notes' pitches.
static std::map<int, std::vector<int>> pitches_by_instrument(const music::Score& s) {
  std::map<int, std::vector<int>> by;
  for (const auto& n : s.notes) by[music::instrument_of(n)].push_back(n.pitch);
  return by;
}

/// The usual range of each pitched instrument over a set: its 5th to 95th percentile pitch.
static std::map<int, std::pair<int, int>> usual_ranges(const PieceSet& set) {
  std::map<int, std::vector<int>> all;
  for (const auto& p : set.pieces) {
    for (auto& [i, ps] : pitches_by_instrument(p.score)) if (i != 128) all[i].insert(all[i].end(), ps.begin(), ps.end());
  }
  std::map<int, std::pair<int, int>> out;
  for (auto& entry : all) {
    std::vector<int>& ps = entry.second;  // (a structured binding cannot be captured in C++17)
    std::sort(ps.begin(), ps.end());
    const auto at = [&ps](double q) { return ps[static_cast<std::size_t>(q * static_cast<double>(ps.size() - 1))]; };
    out[entry.first] = {at(0.05), at(0.95)};
  }
  return out;
}

/// A part is "in its usual range" when at least 9 in 10 of its notes are (the corpus's own
/// parts are measured the same way, so the two figures compare).
static bool mostly_in_range(std::size_t inside, std::size_t notes) { return 10 * inside >= 9 * notes; }

/// How much of a piece lies in the reference's usual ranges: the share of its pitched notes,
/// and the share of its pitched parts with at least 9 in 10 of their notes in range (NaN: none).
struct InRange {
  double notes = NAN, parts = NAN;
};

/// Per pitched part (instrument -> notes in range, notes) of a piece within `ranges`.
static std::map<int, std::pair<std::size_t, std::size_t>> in_range_by_part(const music::Score& s,
                                                                          const std::map<int, std::pair<int, int>>& ranges) {
  std::map<int, std::pair<std::size_t, std::size_t>> by;
  for (const auto& [i, ps] : pitches_by_instrument(s)) {
    if (i == 128) continue;
    auto r = ranges.find(i);
    std::size_t in = 0;
    if (r != ranges.end()) for (int p : ps) in += p >= r->second.first && p <= r->second.second;
    by[i] = {in, ps.size()};
  }
  return by;
}

static InRange in_range(const music::Score& s, const std::map<int, std::pair<int, int>>& ranges) {
  std::size_t notes = 0, inside = 0, parts_inside = 0;
  const auto by = in_range_by_part(s, ranges);
  for (const auto& [i, c] : by) {
    inside += c.first, notes += c.second;
    parts_inside += mostly_in_range(c.first, c.second);
  }
  InRange r;
  if (notes) r.notes = static_cast<double>(inside) / static_cast<double>(notes);
  if (!by.empty()) r.parts = static_cast<double>(parts_inside) / static_cast<double>(by.size());
  return r;
}

/// Each part of a piece: notes, share of the piece's notes, lowest and highest pitch, and with
/// the reference's usual ranges the share of its notes inside its instrument's.
static nlohmann::json parts_json(const music::Score& s, const std::map<int, std::pair<int, int>>* ranges) {
  nlohmann::json parts = nlohmann::json::array();
  const double beats = static_cast<double>(s.end_tick()) / s.ticks_per_quarter;
  const auto in = ranges ? in_range_by_part(s, *ranges) : std::map<int, std::pair<std::size_t, std::size_t>>{};
  for (const auto& [i, ps] : pitches_by_instrument(s)) {
    const auto [lo, hi] = std::minmax_element(ps.begin(), ps.end());
    music::Score part = s;
    part.notes.clear();
    for (const auto& n : s.notes) if ((music::instrument_of(n)) == i) part.notes.push_back(n);
    nlohmann::json j{{"instrument", i}, {"name", music::instrument_name(i)}, {"notes", ps.size()},
                     {"share", static_cast<double>(ps.size()) / static_cast<double>(s.notes.size())}, {"lowest", *lo}, {"highest", *hi},
                     {"notes_per_beat", beats > 0 ? nlohmann::json(static_cast<double>(ps.size()) / beats) : nlohmann::json(nullptr)}};
    if (i == 128) j["groove_consistency"] = number(groove_consistency(part, measure_ticks(part)));
    else j["polyphony"] = number(polyphony(part));
    if (ranges && i != 128) j["in_usual_range"] = static_cast<double>(in.at(i).first) / static_cast<double>(in.at(i).second);
    parts.push_back(j);
  }
  return parts;
}

static nlohmann::json summary(const std::vector<double>& values) {
  double sum = 0, n = 0;
  for (double v : values) if (!std::isnan(v)) sum += v, ++n;
  if (n == 0) return {{"mean", nullptr}, {"std", nullptr}, {"n", 0}};
  double mean = sum / n, var = 0;
  for (double v : values) if (!std::isnan(v)) var += (v - mean) * (v - mean);
  return {{"mean", mean}, {"std", std::sqrt(var / n)}, {"n", static_cast<int>(n)}};
}

nlohmann::json analyze(const PieceSet& gen, const PieceSet* ref) {
  using nlohmann::json;
  json out;
  CopyIndex index;
  if (ref) {
    for (const auto& p : ref->pieces) index.add_piece(p.symbols);
  }
  json pieces = json::array();
  std::vector<double> longest, n4, n8, n16, notes_in, parts_in;
  const auto ranges = ref ? usual_ranges(*ref) : std::map<int, std::pair<int, int>>{};
  for (const auto& p : gen.pieces) {
    json j{{"file", p.file}, {"notes", p.score.notes.size()}, {"onsets", p.onsets.size()}};
    for (const auto& name : metric_names()) j[name] = number(p.metrics.at(name));
    j["parts"] = parts_json(p.score, ref ? &ranges : nullptr);
    if (ref) {
      const InRange in = in_range(p.score, ranges);
      j["notes_in_usual_range"] = number(in.notes), j["parts_in_usual_range"] = number(in.parts);
      notes_in.push_back(in.notes), parts_in.push_back(in.parts);
      const CopyReport copy = index.longest_copy(p.onsets);
      double a = novel_ngram_share(p.symbols, index, 4), b = novel_ngram_share(p.symbols, index, 8),
             c = novel_ngram_share(p.symbols, index, 16);
      j["originality"] = {{"longest_copy_onsets", copy.longest_onsets},
                          {"longest_copy_seconds", copy.longest_seconds},
                          {"longest_copy_from", copy.piece >= 0 ? json(ref->pieces[static_cast<std::size_t>(copy.piece)].file) : json(nullptr)},
                          {"novel_4gram_share", a},
                          {"novel_8gram_share", b},
                          {"novel_16gram_share", c}};
      longest.push_back(static_cast<double>(copy.longest_onsets));
      n4.push_back(a);
      n8.push_back(b);
      n16.push_back(c);
    }
    pieces.push_back(j);
  }
  out["pieces"] = pieces;
  json skipped = json::array();
  for (auto& [f, e] : gen.skipped) skipped.push_back({{"file", f}, {"error", e}});
  out["skipped"] = skipped;
  json g, r, overlap;
  for (const auto& name : metric_names()) {
    std::vector<double> a, b;
    for (const auto& p : gen.pieces) a.push_back(p.metrics.at(name));
    g[name] = summary(a);
    if (ref) {
      for (const auto& p : ref->pieces) b.push_back(p.metrics.at(name));
      r[name] = summary(b);
      overlap[name] = number(overlapping_area(b, a));
    }
  }
  if (ref) {
    g["longest_copy_onsets"] = summary(longest);
    g["novel_4gram_share"] = summary(n4);
    g["novel_8gram_share"] = summary(n8);
    g["novel_16gram_share"] = summary(n16);
    g["notes_in_usual_range"] = summary(notes_in);
    g["parts_in_usual_range"] = summary(parts_in);
    // The reference's own pieces by the same ranges, so that the figures compare.
    std::vector<double> ref_notes, ref_parts;
    for (const auto& p : ref->pieces) {
      const InRange x = in_range(p.score, ranges);
      ref_notes.push_back(x.notes), ref_parts.push_back(x.parts);
    }
    r["notes_in_usual_range"] = summary(ref_notes);
    r["parts_in_usual_range"] = summary(ref_parts);
    json rj = json::object();
    for (const auto& [i, lh] : ranges) rj[std::to_string(i)] = {{"name", music::instrument_name(i)}, {"p5", lh.first}, {"p95", lh.second}};
    out["reference_ranges"] = rj;
    out["reference"] = r;
    out["overlap"] = overlap;
    out["reference_pieces"] = ref->pieces.size();
  }
  out["generated"] = g;
  return out;
}

}  // namespace arioso::eval
