// `arioso analyze` as a library call: metrics per piece and per set, originality against a
// reference set, and the overlapping areas of the two sets' metric distributions.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "eval/originality.h"

namespace arioso::eval {

struct AnalyzedPiece {
  std::string file;
  music::Score score;
  Metrics metrics;
  std::vector<Onset> onsets;
  std::vector<std::uint64_t> symbols;  ///< onsets' symbols, for the copy index
};

struct PieceSet {
  std::vector<AnalyzedPiece> pieces;
  std::vector<std::pair<std::string, std::string>> skipped;  ///< (file, error)
};

/// Reads MIDI files (lenient) from files or folders; parts as for training (`pitched`).
PieceSet load_midi_set(const std::vector<std::string>& inputs, const std::string& parts = "all");
/// Pieces of a prepared corpus (decoded from its tokens), all splits.
PieceSet load_corpus_set(const std::string& corpus_path);
void add_metrics(PieceSet& set);

/// The analyze report as JSON (schema in the README): pieces[i].<metric>, generated.<metric>.{mean,std},
/// and with a reference: reference.<metric>.{mean,std}, overlap.<metric>, originality per piece.
nlohmann::json analyze(const PieceSet& generated, const PieceSet* reference);

}  // namespace arioso::eval
