// Tokenizer dispatch and vocabulary; see tokenizer.h.
#include "music/tokenizer.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "music/classic.h"
#include "music/remi.h"

namespace arioso::music {

nlohmann::json TokenizerConfig::to_json() const {
  nlohmann::json j{{"name", name}, {"parts", parts}};
  if (name == "classic") j["compat"] = compat_music21 ? "music21" : "none";
  if (name == "remi") {
    j["grid_per_quarter"] = RemiSettings::kGrid;
    j["pitch_range"] = {RemiSettings::kMinPitch, RemiSettings::kMaxPitch};
    j["velocity_bins"] = RemiSettings::kVelocityBins;
    j["durations"] = remi_durations();
    j["tempos"] = remi_tempos();
    j["compact"] = remi.compact;
    j["keys"] = remi.keys;
    j["instruments"] = remi.instruments;
    j["infill"] = remi.infill;
    j["repeats"] = remi.repeats;
  }
  return j;
}

TokenizerConfig TokenizerConfig::from_json(const nlohmann::json& j) {
  TokenizerConfig c;
  try {
    c.name = j.at("name").get<std::string>();
    c.parts = j.value("parts", "pitched");
    c.compat_music21 = j.value("compat", "none") == "music21";
    c.remi.compact = j.value("compact", false);
    c.remi.keys = j.value("keys", false);
    c.remi.instruments = j.value("instruments", false);
    c.remi.infill = j.value("infill", false);
    c.remi.repeats = j.value("repeats", false);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("tokenizer settings: {}", e.what()));
  }
  c.validate();
  return c;
}

void TokenizerConfig::validate() const {
  if (name != "remi" && name != "classic") throw ConfigError(fmt::format("unknown tokenizer '{}' (use remi or classic)", name));
  if (compat_music21 && name != "classic") throw ConfigError("--compat music21 needs --tokenizer classic");
  if (parse_part_selection(parts).kind == PartSelection::Kind::kAll && !(name == "remi" && remi.instruments)) {
    throw ConfigError("--parts all needs a tokenizer with instruments (--tokenizer remi)");
  }
  if (remi.repeats && !(remi.instruments && remi.infill)) throw ConfigError("REMI's Repeat tokens need its instruments and infill markers");
}

TokenizerConfig tokenizer_named(const std::string& name) {
  TokenizerConfig c;
  if (name == "remi" || name == "remi-no-repeats") {
    c.remi = RemiOptions{true, true, true, true, name == "remi"};
    c.name = "remi";
    c.parts = "all";
  } else if (name == "remi-merged") {
    c.remi = RemiOptions{true, true, false};
  } else if (name == "remi-plain") {
    c.name = "remi";
  } else if (name == "classic") {
    c.name = "classic";
  } else {
    throw ConfigError(fmt::format("unknown tokenizer '{}' (use remi, remi-no-repeats, remi-merged, remi-plain or classic)", name));
  }
  return c;
}

std::vector<std::string> tokenize(const midi::MidiFile& file, const TokenizerConfig& config) {
  if (config.name == "classic" && config.compat_music21) return classic_tokens_music21(file);
  Score s = select_parts(score_from_midi(file), parse_part_selection(config.parts));
  if (config.name == "classic") return classic_tokens(s);
  return remi_encode(s, config.remi);
}

Score detokenize(const std::vector<std::string>& tokens, const TokenizerConfig& config) {
  if (config.name == "classic") return classic_decode(tokens);
  return remi_decode(tokens, config.remi);
}

const char* token_kind_name(TokenKind kind) {
  switch (kind) {
    case TokenKind::kPitch: return "pitch";
    case TokenKind::kTiming: return "timing";
    case TokenKind::kDuration: return "duration";
    case TokenKind::kVelocity: return "velocity";
    case TokenKind::kStructure: return "structure";
    case TokenKind::kInstrument: return "instrument";
  }
  return "?";
}

std::vector<TokenKind> token_kinds(const std::vector<std::string>& vocab, const TokenizerConfig& config) {
  std::vector<TokenKind> out;
  out.reserve(vocab.size());
  for (const auto& t : vocab) {
    if (config.name == "classic") {
      out.push_back(TokenKind::kPitch);  // a pitch name or a chord: what sounds, nothing else
      continue;
    }
    auto starts = [&](const char* prefix) { return t.rfind(prefix, 0) == 0; };
    if (starts("Pitch_") || starts("Drum_")) out.push_back(TokenKind::kPitch);
    else if (starts("Position_")) out.push_back(TokenKind::kTiming);
    else if (starts("Duration_")) out.push_back(TokenKind::kDuration);
    else if (starts("Velocity_")) out.push_back(TokenKind::kVelocity);
    else if (starts("Program_") || starts("Instrument_")) out.push_back(TokenKind::kInstrument);
    else if (starts("Key_")) out.push_back(TokenKind::kStructure);
    else out.push_back(TokenKind::kStructure);  // Bar, TimeSig_*, Tempo_*, Hole, Fill, FillEnd, Repeat_*
  }
  return out;
}

Transposer::Transposer(const std::vector<std::string>& vocab, const TokenizerConfig& config)
    : supported_(supports_transposition(config)), pitch_(vocab.size(), -1), key_(vocab.size(), -1) {
  if (!supported_) return;
  const auto all = remi_vocabulary(RemiOptions{false, true, true, true, true});
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    if (id >= all.size() || vocab[id] != all[id]) throw Error(fmt::format("token {} ('{}') is not REMI's token {}", id, vocab[id], id));
    if (remi_kind(static_cast<int>(id)) == RemiKind::kPitch) pitch_[id] = remi_value(static_cast<int>(id));
    if (remi_kind(static_cast<int>(id)) == RemiKind::kKey) key_[id] = remi_value(static_cast<int>(id));
  }
  key0_ = remi_first_id(RemiKind::kKey);
}

bool Transposer::fits(const std::int64_t* ids, std::size_t n, int semitones) const {
  for (std::size_t i = 0; i < n; ++i) {
    int p = pitch_[static_cast<std::size_t>(ids[i])];
    if (p >= 0 && (p + semitones < RemiSettings::kMinPitch || p + semitones > RemiSettings::kMaxPitch)) return false;
  }
  return true;
}

std::int64_t Transposer::shift(std::int64_t id, int semitones) const {
  const auto u = static_cast<std::size_t>(id);
  if (pitch_[u] >= 0) return id + semitones;  // Pitch ids are contiguous and ascending
  if (key_[u] >= 0) return key0_ + ((key_[u] % 12 + semitones) % 12 + 12) % 12 + (key_[u] >= 12 ? 12 : 0);
  return id;
}

std::pair<std::size_t, std::size_t> header_span(const std::vector<std::uint16_t>& ids, const std::vector<TokenKind>& kinds) {
  std::size_t end = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const TokenKind k = kinds.at(ids[i]);
    if (k == TokenKind::kTiming) break;
    if (k == TokenKind::kInstrument) end = i + 1;
  }
  return {0, end};
}

bool supports_transposition(const TokenizerConfig& config) { return config.name == "remi"; }

Vocab::Vocab(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    if (!ids_.emplace(tokens_[i], static_cast<int>(i)).second) throw FormatError(fmt::format("vocabulary lists '{}' twice", tokens_[i]));
  }
}

Vocab Vocab::for_remi(const RemiOptions& options) { return Vocab(remi_vocabulary(options)); }

std::optional<int> Vocab::find(const std::string& token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int Vocab::id(const std::string& token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) throw Error(fmt::format("token '{}' is not in the vocabulary ({} tokens)", token, tokens_.size()));
  return it->second;
}

std::uint64_t Vocab::hash() const {
  std::uint64_t h = fnv1a64("", 0);
  for (const auto& t : tokens_) {
    h = fnv1a64(t.data(), t.size(), h);
    h = fnv1a64("\n", 1, h);
  }
  return h;
}

}  // namespace arioso::music
