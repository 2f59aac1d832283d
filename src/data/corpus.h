// Token corpora on disk: one binary file (magic, version, tokenizer settings, vocabulary,
// per piece its source path, content hash, split and tokens, checksum), written atomically.
// Also the deterministic train/valid/test split. No libtorch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "music/tokenizer.h"

namespace arioso::data {

enum class Split : std::uint8_t { kTrain = 0, kValid = 1, kTest = 2 };
const char* split_name(Split s);

struct Piece {
  std::string source;            ///< path of the MIDI file it came from
  std::uint64_t content_hash = 0;///< FNV-1a of the file's bytes
  Split split = Split::kTrain;
  float seconds = 0;             ///< length of the music
  std::vector<std::uint16_t> tokens;  ///< ids into the corpus vocabulary
};

struct Corpus {
  music::TokenizerConfig tokenizer;
  music::Vocab vocab;
  std::vector<Piece> pieces;
  nlohmann::json meta = nlohmann::json::object();  ///< how it was made (fractions, skipped files)
  /// Hash of the vocabulary and of every piece's hash, split and tokens.
  std::uint64_t fingerprint() const;
  std::size_t token_count(Split s) const;
  std::size_t piece_count(Split s) const;
};

constexpr std::uint32_t kCorpusVersion = 1;

/// Writes the corpus to `path` through a temporary file and rename.
void write_corpus(const std::string& path, const Corpus& corpus);
/// Whether `path` is a corpus file (a regular file that starts with the corpus magic), as
/// opposed to a MIDI file or a folder. Never throws.
bool is_corpus_file(const std::string& path);
/// Reads a corpus; throws FormatError for a file that is not a corpus, of another version, or corrupt.
Corpus read_corpus(const std::string& path);
/// The same from bytes already read (`path` names them in errors).
Corpus parse_corpus(const std::vector<std::uint8_t>& bytes, const std::string& path);

/// Split of a piece from its content hash: the same file always lands in the same split,
/// whatever else is in the folder.
Split split_for_hash(std::uint64_t content_hash, double valid_fraction, double test_fraction);

}  // namespace arioso::data
