// Choosing the next token from a model's logits, as a pure function of the logits, the settings
// and a random generator: temperature, top-k, top-p (nucleus), a repetition penalty and a ban on
// repeated n-grams. Grammar, key and originality masks are decided by the caller (generate.cpp)
// and arrive as logits of -infinity.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace arioso::generate {

struct SamplerSettings {
  double temperature = 1.0;       ///< > 0; the logits are divided by it
  int top_k = 0;                  ///< keep the k most likely tokens (0 = all)
  double top_p = 1.0;             ///< keep the most likely tokens whose mass reaches p (1 = all)
  double repetition_penalty = 1.0;///< > 1: penalised logits are divided (positive) or multiplied (negative) by it (CTRL's rule)
  bool greedy = false;            ///< the most likely token, no sampling
};

/// The token to take: the argmax when greedy, else a draw from the tempered, top-k and top-p
/// truncated distribution. `logits` (V) are changed by the repetition penalty where `penalized`
/// (V, or empty) is true; -infinity marks tokens that are not allowed. -1 when none is allowed.
int sample_token(std::vector<double>& logits, const std::vector<bool>& penalized, const SamplerSettings& settings, std::mt19937_64& rng);

/// Clears in `allowed` (V) every token that would complete an n-gram already in ids[from..]
/// (`n` tokens long, n > 1), given that the last n - 1 tokens of `ids` are its start.
void forbid_repeated_ngrams(const std::vector<int>& ids, std::size_t from, int n, std::vector<bool>& allowed);

}  // namespace arioso::generate
