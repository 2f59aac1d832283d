// One entry point for both tokenizers: configuration (saved with corpora and checkpoints),
// MIDI -> token strings, token strings -> Score, and the vocabulary (token <-> id).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "midi/midi_file.h"
#include "music/remi.h"
#include "music/score.h"

namespace arioso::music {

struct TokenizerConfig {
  std::string name = "remi";   ///< "remi" or "classic"
  bool compat_music21 = false; ///< classic only: reproduce music21 5.x exactly
  std::string parts = "pitched";  ///< --parts (ignored by the music21 reading, which has its own rule)
  RemiOptions remi;            ///< remi only: compact notes, key tokens, instruments (absent in older corpora: off)
  nlohmann::json to_json() const;
  /// Throws ConfigError for an unknown tokenizer or bad settings.
  static TokenizerConfig from_json(const nlohmann::json& j);
  void validate() const;
};

/// The settings a command-line name stands for: "remi" (arioso's default: compact notes, key
/// tokens and instruments, every part with drums: --parts all; docs/tokens.md), "remi-merged"
/// (the same without instruments: the pitched parts merged into one, as before 0.2),
/// "remi-plain" (REMI as in Huang & Yang 2020: every note's Velocity and Duration, no keys),
/// "classic" (the tutorial's). Throws ConfigError.
TokenizerConfig tokenizer_named(const std::string& name);

/// Token strings of a file under `config`.
std::vector<std::string> tokenize(const midi::MidiFile& file, const TokenizerConfig& config);
/// Music of a token sequence; throws Error naming the first bad token.
Score detokenize(const std::vector<std::string>& tokens, const TokenizerConfig& config);
/// What a token says, for splitting the loss: where the loss goes in a model.
enum class TokenKind { kPitch, kTiming, kDuration, kVelocity, kStructure, kInstrument };
constexpr int kTokenKinds = 6;
/// "pitch", "timing", "duration", "velocity", "structure", "instrument".
const char* token_kind_name(TokenKind kind);
/// Kind of each id of `vocab` under `config` (REMI: Pitch and Drum (pitch), Position (timing),
/// Duration, Velocity, Program (instrument), Bar/TimeSig/Tempo/Key (structure); classic: a note
/// or chord token is pitch).
std::vector<TokenKind> token_kinds(const std::vector<std::string>& vocab, const TokenizerConfig& config);

/// The opening of a piece's tokens up to the end of its header (REMI with instruments: Bar,
/// TimeSig, Key and the instrument tokens before its first Position, which name the piece's
/// instruments), as [0, end) of `ids`; {0, 0} when it has no header. Training puts it ahead of
/// every window cut from the piece, as generation sees it, so that the model always knows what
/// it is composing for.
std::pair<std::size_t, std::size_t> header_span(const std::vector<std::uint16_t>& ids, const std::vector<TokenKind>& kinds);

/// Whether token sequences can be transposed (remi: yes; classic: no, its vocabulary is closed).
bool supports_transposition(const TokenizerConfig& config);

/// Transposition of token ids, for augmentation: REMI's Pitch tokens move, and its Key tokens'
/// tonics with them; the classic vocabulary is closed and does not transpose.
class Transposer {
 public:
  Transposer(const std::vector<std::string>& vocab, const TokenizerConfig& config);
  bool supported() const { return supported_; }
  /// Whether all `n` ids stay on the piano when moved by `semitones`.
  bool fits(const std::int64_t* ids, std::size_t n, int semitones) const;
  /// `id` moved by `semitones` (tokens without a pitch unchanged); check fits() first.
  std::int64_t shift(std::int64_t id, int semitones) const;

 private:
  bool supported_ = false;
  std::vector<int> pitch_;  // id -> MIDI pitch, or -1
  std::vector<int> key_;    // id -> key index (tonic + 12 x minor), or -1
  int key0_ = 0;            // id of the first Key token
};

/// Token <-> id. REMI's is fixed by its settings; classic's is the corpus's sorted token set
/// (the tutorial's `sorted(set(notes))`).
class Vocab {
 public:
  Vocab() = default;
  explicit Vocab(std::vector<std::string> tokens);
  static Vocab for_remi(const RemiOptions& options = {});
  int size() const { return static_cast<int>(tokens_.size()); }
  const std::string& token(int id) const { return tokens_.at(static_cast<std::size_t>(id)); }
  std::optional<int> find(const std::string& token) const;
  /// Id of a token; throws Error naming the token if it is not in the vocabulary.
  int id(const std::string& token) const;
  const std::vector<std::string>& tokens() const { return tokens_; }
  /// Stable 64-bit fingerprint of the token list (checkpoints refuse a mismatched vocabulary).
  std::uint64_t hash() const;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace arioso::music
