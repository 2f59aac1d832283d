// `arioso tokens FILE.mid` prints one file's tokens; `arioso detokenize TOKENS.json -o OUT.mid`
// writes such a document back as MIDI.
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "core/error.h"
#include "core/files.h"
#include "midi/midi_file.h"
#include "music/tokenizer.h"

namespace arioso::app {

Runner add_tokens(CLI::App& app) {
  struct Opt {
    std::string file, tokenizer = "remi", compat = "none", parts;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = app.add_subcommand("tokens", "Print the tokens of one MIDI file");
  cmd->add_option("file", o->file, "MIDI file")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "remi (default: compact notes, keys, instruments, repeated bars), remi-no-repeats, remi-merged, remi-plain or classic (the tutorial's)")->check(CLI::IsMember({"remi", "remi-no-repeats", "remi-merged", "remi-plain", "classic"}));
  cmd->add_option("--compat", o->compat, "classic only: 'music21' reproduces music21 5.x exactly")->check(CLI::IsMember({"none", "music21"}));
  cmd->add_option("--parts", o->parts, "all (remi's default) | pitched (the others') | first | programs=0-7,40 | tracks=1,3");
  cmd->add_flag("--json", o->json, "Print {\"file\", \"tokenizer\", \"tokens\"}");
  return [o]() {
    music::TokenizerConfig cfg = music::tokenizer_named(o->tokenizer);
    cfg.compat_music21 = o->compat == "music21";
    if (!o->parts.empty()) cfg.parts = o->parts;
    cfg.validate();
    auto f = midi::read_midi_file(o->file);
    auto tokens = music::tokenize(f, cfg);
    if (o->json) {
      fmt::print("{}\n", nlohmann::json{{"file", o->file}, {"tokenizer", cfg.to_json()}, {"tokens", tokens}}.dump());
    } else {
      for (const auto& t : tokens) fmt::print("{}\n", t);
    }
    return 0;
  };
}

Runner add_detokenize(CLI::App& app) {
  struct Opt {
    std::string input, output;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = app.add_subcommand("detokenize", "Write a tokens JSON document (from 'arioso tokens --json') as MIDI");
  cmd->add_option("tokens", o->input, "JSON file with \"tokenizer\" and \"tokens\"")->required();
  cmd->add_option("-o,--output", o->output, "MIDI file to write")->required();
  return [o]() {
    auto bytes = read_file_bytes(o->input);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON: {}", o->input, e.what()));
    }
    if (!j.contains("tokens") || !j["tokens"].is_array()) throw Error(fmt::format("{}: no \"tokens\" array", o->input));
    music::TokenizerConfig cfg = j.contains("tokenizer") ? music::TokenizerConfig::from_json(j["tokenizer"]) : music::TokenizerConfig{};
    std::vector<std::string> tokens;
    for (const auto& t : j["tokens"]) {
      if (!t.is_string()) throw Error(fmt::format("{}: tokens must be strings", o->input));
      tokens.push_back(t.get<std::string>());
    }
    music::Score s;
    try {
      s = music::detokenize(tokens, cfg);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", o->input, e.what()));
    }
    write_file_atomic(o->output, midi::write_midi(music::score_to_midi(s)));
    fmt::print("wrote {} ({} notes)\n", o->output, s.notes.size());
    return 0;
  };
}

}  // namespace arioso::app
