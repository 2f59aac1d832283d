// See sampler.h. Probabilities are computed relative to the largest logit, so no logit can
// overflow exp(); ties in sorting keep the lower id first (a stable order, so a seed always
// gives the same draw).
#include "generate/sampler.h"

#include <algorithm>
#include <cmath>

namespace arioso::generate {

int sample_token(std::vector<double>& lg, const std::vector<bool>& penalized, const SamplerSettings& o, std::mt19937_64& rng) {
  const std::size_t V = lg.size();
  if (o.repetition_penalty != 1.0) {
    for (std::size_t u = 0; u < V && u < penalized.size(); ++u) {
      if (!penalized[u] || !std::isfinite(lg[u])) continue;
      lg[u] = lg[u] > 0 ? lg[u] / o.repetition_penalty : lg[u] * o.repetition_penalty;
    }
  }
  double best = -INFINITY;
  int argmax = -1;
  for (std::size_t u = 0; u < V; ++u) {
    if (lg[u] > best) best = lg[u], argmax = static_cast<int>(u);
  }
  if (argmax < 0 || o.greedy) return argmax;
  std::vector<std::pair<double, int>> probs;
  const double t = std::max(1e-4, o.temperature);
  for (std::size_t u = 0; u < V; ++u) {
    if (std::isfinite(lg[u])) probs.emplace_back(std::exp((lg[u] - best) / t), static_cast<int>(u));
  }
  std::stable_sort(probs.begin(), probs.end(), [](const auto& a, const auto& c) { return a.first > c.first; });
  if (o.top_k > 0 && static_cast<int>(probs.size()) > o.top_k) probs.resize(static_cast<std::size_t>(o.top_k));
  double total = 0;
  for (const auto& p : probs) total += p.first;
  if (o.top_p < 1.0) {
    double acc = 0;
    std::size_t keep = 0;
    while (keep < probs.size() && acc < o.top_p * total) acc += probs[keep++].first;
    probs.resize(std::max<std::size_t>(1, keep));
    total = acc > 0 ? acc : probs[0].first;
  }
  double r = std::uniform_real_distribution<double>(0, total)(rng);
  for (const auto& p : probs) {
    if (r < p.first) return p.second;
    r -= p.first;
  }
  return probs.back().second;
}

void forbid_repeated_ngrams(const std::vector<int>& ids, std::size_t from, int n, std::vector<bool>& allowed) {
  if (n < 2 || ids.size() < static_cast<std::size_t>(n - 1)) return;
  const std::size_t k = static_cast<std::size_t>(n), len = ids.size();
  for (std::size_t i = from; i + k <= len; ++i) {
    if (std::equal(ids.begin() + static_cast<long>(i), ids.begin() + static_cast<long>(i + k - 1), ids.end() - static_cast<long>(k - 1))) {
      const auto next = static_cast<std::size_t>(ids[i + k - 1]);
      if (next < allowed.size()) allowed[next] = false;
    }
  }
}

}  // namespace arioso::generate
