// `arioso info FILE...`: what is inside MIDI files (tracks, tempo, meters, keys, notes,
// and what the lenient reader had to recover), as text or JSON Lines.
#include <algorithm>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "music/instruments.h"
#include "music/key.h"
#include "music/remi.h"
#include "music/score.h"
#include "core/error.h"
#include "midi/midi_file.h"
#include "midi/notes.h"
#include "music/pitch.h"

namespace arioso::app {

namespace {

struct InfoOptions {
  std::vector<std::string> files;
  bool notes = false;
  bool json = false;
  bool strict = false;
  bool system = false;
};

const char* key_name(int sharps, bool minor) {
  static const char* kMajor[] = {"Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"};
  static const char* kMinor[] = {"Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"};
  return minor ? kMinor[sharps + 7] : kMajor[sharps + 7];
}

nlohmann::json describe(const std::string& path, const midi::MidiFile& f, const std::vector<midi::Diagnostic>& diags,
                        bool with_notes) {
  using nlohmann::json;
  midi::NoteStats stats;
  auto notes = midi::extract_notes(f, &stats);
  midi::TempoMap tempo(f);
  json j;
  j["file"] = path;
  j["format"] = f.format;
  if (f.division.smpte) {
    j["division"] = {{"smpte_fps", f.division.frames_per_second}, {"ticks_per_frame", f.division.ticks_per_frame}};
  } else {
    j["division"] = {{"ticks_per_quarter", f.division.ticks_per_quarter}};
  }
  json tracks = json::array();
  for (std::size_t t = 0; t < f.tracks.size(); ++t) {
    std::set<int> channels, programs;
    std::size_t count = 0;
    for (const auto& n : notes) {
      if (n.track != static_cast<int>(t)) continue;
      channels.insert(n.channel);
      programs.insert(n.program);
      ++count;
    }
    tracks.push_back({{"name", midi::track_name(f.tracks[t])},
                      {"events", f.tracks[t].events.size()},
                      {"channels", channels},
                      {"programs", programs},
                      {"notes", count}});
  }
  j["tracks"] = tracks;
  {
    // The parts as the default tokenizer sees them: one per instrument, over tracks and channels.
    json parts = json::array();
    for (const auto& p : music::remi_parts(music::score_from_midi(f))) {
      parts.push_back({{"instrument", p.instrument == music::RemiSettings::kDrums ? json("drums") : json(p.instrument)},
                       {"name", music::instrument_name(p.instrument)}, {"notes", p.notes}, {"kept", p.kept},
                       {"tracks", p.tracks}, {"channels", p.channels}, {"pitch_range", {p.lowest, p.highest}}});
    }
    j["parts"] = parts;
  }
  json tempos = json::array();
  for (const auto& c : tempo.changes()) {
    tempos.push_back({{"tick", c.tick}, {"us_per_quarter", c.us_per_quarter}, {"bpm", 60e6 / c.us_per_quarter}});
  }
  j["tempo"] = tempos;
  json ts = json::array();
  for (const auto& t : midi::time_signatures(f)) ts.push_back({{"tick", t.tick}, {"numerator", t.numerator}, {"denominator", t.denominator}});
  j["time_signatures"] = ts;
  json ks = json::array();
  for (const auto& k : midi::key_signatures(f)) {
    ks.push_back({{"tick", k.tick}, {"sharps", k.sharps}, {"minor", k.minor}, {"name", fmt::format("{} {}", key_name(k.sharps, k.minor), k.minor ? "minor" : "major")}});
  }
  j["key_signatures"] = ks;
  {
    // The key the notes imply (music/key.h), whole and per 4-bar section; drums ignored.
    music::Score score = music::score_from_midi(f);
    json est = nullptr;
    if (!score.notes.empty()) {
      music::Key k = music::estimate_key(score);
      json sections = json::array();
      for (const auto& sec : music::key_sections(score, 4)) {
        sections.push_back({{"first_bar", sec.first_bar + 1}, {"last_bar", sec.last_bar + 1}, {"key", sec.key.name()}, {"correlation", sec.key.correlation}});
      }
      est = {{"key", k.name()}, {"correlation", k.correlation}, {"sections", sections}};
    }
    j["key_estimate"] = est;
  }
  std::uint64_t len = midi::length_ticks(f);
  j["length_ticks"] = len;
  j["beats"] = f.division.smpte ? 0.0 : static_cast<double>(len) / f.division.ticks_per_quarter;
  j["seconds"] = tempo.seconds(len);
  j["note_count"] = notes.size();
  if (!notes.empty()) {
    auto [lo, hi] = std::minmax_element(notes.begin(), notes.end(), [](auto& a, auto& b) { return a.pitch < b.pitch; });
    j["pitch_range"] = {lo->pitch, hi->pitch};
  } else {
    j["pitch_range"] = nullptr;
  }
  j["zero_length_notes"] = stats.zero_length;
  j["unterminated_notes"] = stats.unterminated;
  json d = json::array();
  for (const auto& x : diags) d.push_back(x.message);
  j["diagnostics"] = d;
  if (with_notes) {
    json ns = json::array();
    for (const auto& n : notes) {
      ns.push_back({{"track", n.track}, {"channel", n.channel}, {"program", n.program}, {"pitch", n.pitch},
                    {"velocity", n.velocity}, {"start_tick", n.start_tick}, {"end_tick", n.end_tick}});
    }
    j["notes"] = ns;
  }
  return j;
}

void print_text(const nlohmann::json& j) {
  std::string division = j["division"].contains("ticks_per_quarter")
                             ? fmt::format("{} ticks per quarter", j["division"]["ticks_per_quarter"].get<int>())
                             : fmt::format("SMPTE {} fps x {} ticks", j["division"]["smpte_fps"].get<int>(),
                                           j["division"]["ticks_per_frame"].get<int>());
  fmt::print("{}\n  format {}, {}, {} tracks, {} notes\n", j["file"].get<std::string>(), j["format"].get<int>(), division,
             j["tracks"].size(), j["note_count"].get<std::size_t>());
  fmt::print("  length: {:.2f} beats, {:.2f} s\n", j["beats"].get<double>(), j["seconds"].get<double>());
  if (!j["pitch_range"].is_null()) {
    int lo = j["pitch_range"][0], hi = j["pitch_range"][1];
    fmt::print("  pitch range: {}..{} ({}..{})\n", lo, hi, music::pitch_name(lo), music::pitch_name(hi));
  }
  fmt::print("  tracks:\n");
  for (std::size_t t = 0; t < j["tracks"].size(); ++t) {
    const auto& tr = j["tracks"][t];
    auto join = [](const nlohmann::json& a) {
      std::string s;
      for (const auto& x : a) s += (s.empty() ? "" : ",") + std::to_string(x.get<int>());
      return s.empty() ? "-" : s;
    };
    fmt::print("    {:>3} {:<24} channels {:<8} programs {:<8} notes {}\n", t, "\"" + tr["name"].get<std::string>() + "\"",
               join(tr["channels"]), join(tr["programs"]), tr["notes"].get<std::size_t>());
  }
  fmt::print("  parts (as the remi tokenizer sees them: one per instrument, over tracks and channels):\n");
  for (const auto& p : j["parts"]) {
    std::string tracks, channels;
    for (const auto& t : p["tracks"]) tracks += (tracks.empty() ? "" : ",") + std::to_string(t.get<int>());
    for (const auto& c : p["channels"]) channels += (channels.empty() ? "" : ",") + std::to_string(c.get<int>());
    const std::size_t notes = p["notes"].get<std::size_t>(), kept = p["kept"].get<std::size_t>();
    fmt::print("    {:<28} {:>6} notes{}  tracks {}  channels {}\n",
               p["instrument"].is_string() ? "Drums" : fmt::format("{} [{}]", p["name"].get<std::string>(), p["instrument"].get<int>()), notes,
               kept == notes ? "" : fmt::format(" ({} kept)", kept), tracks, channels);
  }
  fmt::print("  tempo:");
  std::size_t shown = 0;
  for (const auto& c : j["tempo"]) {
    if (shown++ == 8) {
      fmt::print(" ... ({} changes)", j["tempo"].size());
      break;
    }
    fmt::print(" {}:{:.1f} BPM", c["tick"].get<std::uint64_t>(), c["bpm"].get<double>());
  }
  fmt::print("\n  time signatures:");
  for (const auto& t : j["time_signatures"]) fmt::print(" {}:{}/{}", t["tick"].get<std::uint64_t>(), t["numerator"].get<int>(), t["denominator"].get<int>());
  if (j["time_signatures"].empty()) fmt::print(" none (4/4 implied)");
  fmt::print("\n  key signatures:");
  for (const auto& k : j["key_signatures"]) fmt::print(" {}:{}", k["tick"].get<std::uint64_t>(), k["name"].get<std::string>());
  if (j["key_signatures"].empty()) fmt::print(" none");
  fmt::print("\n");
  if (!j["key_estimate"].is_null()) {
    const auto& e = j["key_estimate"];
    fmt::print("  key from the notes: {} (r = {:.2f}); by 4 bars:", e["key"].get<std::string>(), e["correlation"].get<double>());
    std::size_t shown_sections = 0;
    for (const auto& sec : e["sections"]) {
      if (shown_sections++ == 8) {
        fmt::print(" ... ({} sections)", e["sections"].size());
        break;
      }
      fmt::print(" bars {}-{} {}", sec["first_bar"].get<int>(), sec["last_bar"].get<int>(), sec["key"].get<std::string>());
    }
    fmt::print("\n");
  }
  if (j["zero_length_notes"].get<std::size_t>() || j["unterminated_notes"].get<std::size_t>()) {
    fmt::print("  notes: {} of zero length (kept), {} without note-off (ended at the end of their track)\n",
               j["zero_length_notes"].get<std::size_t>(), j["unterminated_notes"].get<std::size_t>());
  }
  if (j["diagnostics"].empty()) {
    fmt::print("  diagnostics: none\n");
  } else {
    fmt::print("  diagnostics ({} recovered):\n", j["diagnostics"].size());
    for (const auto& d : j["diagnostics"]) fmt::print("    {}\n", d.get<std::string>());
  }
  if (j.contains("notes")) {
    fmt::print("  notes (track channel program pitch velocity start_tick end_tick):\n");
    for (const auto& n : j["notes"]) {
      fmt::print("    {} {} {} {} {} {} {}\n", n["track"].get<int>(), n["channel"].get<int>(), n["program"].get<int>(),
                 n["pitch"].get<int>(), n["velocity"].get<int>(), n["start_tick"].get<std::uint64_t>(),
                 n["end_tick"].get<std::uint64_t>());
    }
  }
}

}  // namespace

std::string system_report_text();  // system_info.cpp

Runner add_info(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "Show what is inside MIDI files (tracks, tempo, meters, notes, recoveries)");
  cmd->add_option("files", opt->files, "MIDI files");
  cmd->add_flag("--notes", opt->notes, "Also list every note (track channel program pitch velocity start_tick end_tick)");
  cmd->add_flag("--json", opt->json, "Print one JSON object per file (JSON Lines)");
  cmd->add_flag("--strict", opt->strict, "Treat every violation of the MIDI file standard as an error");
  cmd->add_flag("--system", opt->system, "Report the machine: CPU, BLAS kernels chosen, threads, libtorch");
  return [opt]() {
    if (opt->system) {
      fmt::print("{}", system_report_text());
      if (opt->files.empty()) return 0;
    }
    if (opt->files.empty()) {
      fmt::print(stderr, "arioso info: give at least one MIDI file (or --system)\n");
      return 2;
    }
    int status = 0;
    for (const auto& path : opt->files) {
      try {
        std::vector<midi::Diagnostic> diags;
        auto f = midi::read_midi_file(path, opt->strict, &diags);
        auto j = describe(path, f, diags, opt->notes);
        if (opt->json) fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        else print_text(j);
      } catch (const Error& e) {
        std::fflush(stdout);
        fmt::print(stderr, "arioso info: {}\n", e.what());
        status = 1;
      }
    }
    return status;
  };
}

}  // namespace arioso::app
