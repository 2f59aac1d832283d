// The analyze picture: pitch-class and inter-onset-interval histograms and metric distributions
// of a set of pieces beside a reference set.
#pragma once
#include <string>

#include "eval/analyze.h"

namespace arioso::render {

/// Writes the comparison picture; `reference` may be null. Throws Error if it cannot write.
void write_analysis_png(const std::string& path, const eval::PieceSet& pieces, const eval::PieceSet* reference);

}  // namespace arioso::render
