// The analyze picture: pitch-class and inter-onset-interval histograms and metric distributions
// of a set of pieces beside a reference set.
#pragma once
#include <string>

#include "eval/analyze.h"

namespace arioso::render {

/// Writes the comparison picture; `reference` may be null. Throws Error if it cannot write.
void write_analysis_png(const std::string& path, const eval::PieceSet& pieces, const eval::PieceSet* reference);

/// Bar-by-bar self-similarity matrices (eval::bar_self_similarity; dark = alike), of up to
/// `per_row` pieces in a top row and, with a reference, as many of its pieces in a second row,
/// each titled with its file and repeated-bar share. Throws Error if it cannot write.
void write_self_similarity_png(const std::string& path, const eval::PieceSet& pieces, const eval::PieceSet* reference, int per_row = 3);

}  // namespace arioso::render
