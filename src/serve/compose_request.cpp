// Reading a compose request; see compose_request.h.
#include "serve/compose_request.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "midi/midi_file.h"
#include "music/instruments.h"

namespace arioso::serve {

using nlohmann::json;

namespace {

const std::vector<std::string> kKnown = {"run",  "bars",       "seconds", "temperature", "top_p", "key",  "key_strength",
                                         "tempo", "program",   "instruments", "no_drums", "seed", "max_copy",
                                         "keep_primer", "mode", "from", "fill_bars", "add"};

// A number from a JSON value or a form field's text; BadRequest when it is neither.
double number(const json& v, const std::string& name) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(x)) return x;
  }
  throw BadRequest(400, fmt::format("{}: expected a number, got {}", name, v.dump()));
}

bool given(const json& p, const std::string& name) {
  return p.contains(name) && !p[name].is_null() && !(p[name].is_string() && p[name].get<std::string>().empty());
}

double in_range(const json& p, const std::string& name, double fallback, double lo, double hi) {
  if (!given(p, name)) return fallback;
  double x = number(p[name], name);
  if (x < lo || x > hi) throw BadRequest(400, fmt::format("{} = {}: must be between {} and {}", name, x, lo, hi));
  return x;
}

std::string text(const json& p, const std::string& name, const std::string& fallback = "") {
  return p.contains(name) && p[name].is_string() ? p[name].get<std::string>() : fallback;
}

bool flag(const json& p, const std::string& name) {
  if (!p.contains(name)) return false;
  const auto& v = p[name];
  return v.is_boolean() ? v.get<bool>() : (v.is_string() && (v == "true" || v == "1" || v == "on"));
}

// The settings as one JSON object, and the uploaded file if there is one.
json read_settings(const RequestBody& body, std::optional<FormField>& upload) {
  json p = json::object();
  if (!body.multipart) {
    if (body.text.empty()) return p;
    try {
      p = json::parse(body.text);
    } catch (const json::exception& e) {
      throw BadRequest(400, fmt::format("the body is not JSON: {}", e.what()));
    }
    if (!p.is_object()) throw BadRequest(400, "the body must be a JSON object");
    return p;
  }
  for (const auto& field : body.fields) {
    if (field.name == "primer") {
      upload = field;
    } else if (field.name == "params") {
      json in;
      try {
        in = json::parse(field.content);
      } catch (const json::exception& e) {
        throw BadRequest(400, fmt::format("params: not JSON: {}", e.what()));
      }
      if (!in.is_object()) throw BadRequest(400, "params: must be a JSON object");
      p.update(in);
    } else {
      p[field.name] = field.content;
    }
  }
  return p;
}

void check_known(const json& p) {
  for (auto& [k, v] : p.items()) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
      throw BadRequest(400, fmt::format("unknown setting '{}'; known: {}", k, fmt::join(kKnown, ", ")));
    }
  }
}

generate::GenerateOptions read_generate_options(const json& p, const RequestLimits& limits) {
  generate::GenerateOptions g;  // the command line's defaults, where the request is silent
  if (given(p, "seconds")) {
    g.seconds = in_range(p, "seconds", 0, 1, limits.max_seconds);
  } else {
    g.bars = static_cast<int>(in_range(p, "bars", 8, 1, limits.max_bars));
    if (p.contains("bars") && number(p["bars"], "bars") != g.bars) throw BadRequest(400, "bars: must be a whole number");
  }
  g.temperature = in_range(p, "temperature", g.temperature, 0.05, 3.0);
  g.top_p = in_range(p, "top_p", g.top_p, 0.01, 1.0);
  g.tempo_bpm = in_range(p, "tempo", 0, 0, 400);
  if (g.tempo_bpm > 0 && g.tempo_bpm < 20) throw BadRequest(400, "tempo: 0 (the model's) or between 20 and 400 BPM");
  g.program = static_cast<int>(in_range(p, "program", 0, 0, 127));
  g.max_copy = static_cast<int>(in_range(p, "max_copy", g.max_copy, 0, 1000));
  g.seed = static_cast<std::uint64_t>(in_range(p, "seed", static_cast<double>(limits.default_seed), 0, 9007199254740991.0));
  const std::string key = text(p, "key");
  if (!key.empty() && key != "none") {
    try {
      g.key = generate::parse_key(key);
    } catch (const Error& e) {
      throw BadRequest(400, fmt::format("key: {}", e.what()));
    }
    g.key_strength = in_range(p, "key_strength", -1, -1, 100);  // -1: the generator's default (as the command line's)
  }
  g.keep_primer = flag(p, "keep_primer");
  g.no_drums = flag(p, "no_drums");
  const std::string instruments = text(p, "instruments");
  if (!instruments.empty()) {
    try {
      g.instruments = music::parse_instruments(instruments);
    } catch (const Error& e) {
      throw BadRequest(400, fmt::format("instruments: {}", e.what()));
    }
  }
  return g;
}

// The uploaded file as the `field` ("primer", "song"): within the size limit, a MIDI file with
// notes; its name goes into the params.
void take_upload(ComposeRequest& r, const char* field, const RequestLimits& limits) {
  const FormField& u = *r.upload;
  if (u.content.size() > limits.max_upload_bytes) {
    throw BadRequest(413, fmt::format("{} '{}': {} bytes, more than the limit of {}", field, u.filename, u.content.size(), limits.max_upload_bytes));
  }
  check_midi_upload(u.content, field, u.filename.empty() ? field : u.filename);
  r.params[field] = u.filename;
}

// A job on the user's song (open, infill or accompany): the song is the upload or a piece made
// before ("from"); infill takes "fill_bars" ("9-16") and "instruments", accompany "add".
void read_song_mode(ComposeRequest& r, const RequestLimits& limits) {
  const json& p = r.params;
  if (r.mode != "open" && r.mode != "infill" && r.mode != "accompany") {
    throw BadRequest(400, fmt::format("mode '{}': use compose, open, infill or accompany", r.mode));
  }
  if (r.upload) {
    take_upload(r, "song", limits);
  } else if (p.contains("from") && p["from"].is_string()) {
    r.from = p["from"].get<std::string>();
  } else {
    throw BadRequest(400, fmt::format("mode {}: send the song (a MIDI file in the field 'primer') or 'from' (a piece id)", r.mode));
  }
  auto& f = r.fill;
  f.temperature = r.g.temperature;
  f.top_p = r.g.top_p;
  f.seed = r.g.seed;
  f.max_copy = r.g.max_copy;
  f.instruments = r.g.instruments;
  try {
    if (r.mode == "infill") {
      if (!p.contains("fill_bars") || !p["fill_bars"].is_string()) throw BadRequest(400, "infill: give fill_bars, e.g. \"9-16\"");
      std::tie(f.first_bar, f.end_bar) = generate::parse_bars(p["fill_bars"].get<std::string>());
    } else if (r.mode == "accompany") {
      if (!p.contains("add") || !p["add"].is_string()) throw BadRequest(400, "accompany: give add, e.g. \"bass,drums\"");
      f.add = true;
      f.instruments = music::parse_instruments(p["add"].get<std::string>());
    }
  } catch (const Error& e) {
    throw BadRequest(400, e.what());
  }
}

}  // namespace

void check_midi_upload(const std::string& content, const std::string& field, const std::string& name) {
  try {
    std::vector<std::uint8_t> bytes(content.begin(), content.end());
    midi::ReadOptions ro;
    ro.path = name;
    if (midi::extract_notes(midi::read_midi(bytes, ro)).empty()) throw BadRequest(400, fmt::format("{} '{}': a MIDI file without notes", field, name));
  } catch (const Error& e) {
    throw BadRequest(400, fmt::format("{} is not a MIDI file: {}", field, e.what()));
  }
}

ComposeRequest parse_compose_request(const RequestBody& body, const RequestLimits& limits) {
  ComposeRequest r;
  r.params = read_settings(body, r.upload);
  check_known(r.params);
  if (limits.runs.empty()) throw BadRequest(404, "no runs are served");
  r.run = text(r.params, "run", limits.runs.front());
  if (std::find(limits.runs.begin(), limits.runs.end(), r.run) == limits.runs.end()) {
    throw BadRequest(404, fmt::format("unknown run '{}'; GET /api/runs lists the runs served", r.run));
  }
  r.g = read_generate_options(r.params, limits);
  r.mode = text(r.params, "mode", "compose");
  if (r.mode != "compose") {
    read_song_mode(r, limits);
  } else if (r.upload) {
    take_upload(r, "primer", limits);
  }
  r.params["run"] = r.run;
  r.params["seed"] = r.g.seed;
  return r;
}

}  // namespace arioso::serve
