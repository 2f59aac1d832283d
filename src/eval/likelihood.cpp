// See likelihood.h. A ratio with a zero denominator is NaN (JSON null), never infinity.
#include "eval/likelihood.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace arioso::eval {

namespace {
nlohmann::json ratio(double a, double b) { return b > 0 ? nlohmann::json(a / b) : nlohmann::json(nullptr); }
}  // namespace

void Likelihood::add(music::TokenKind kind, double nll, bool right) {
  const auto k = static_cast<std::size_t>(kind);
  kind_nll[k] += nll;
  ++kind_tokens[k];
  nll_sum += nll;
  ++tokens;
  if (right) ++correct;
}

void Likelihood::merge(const Likelihood& o) {
  tokens += o.tokens;
  correct += o.correct;
  nll_sum += o.nll_sum;
  notes += o.notes;
  beats += o.beats;
  seconds += o.seconds;
  drum_nll += o.drum_nll;
  drum_tokens += o.drum_tokens;
  drum_notes += o.drum_notes;
  for (std::size_t k = 0; k < kind_nll.size(); ++k) {
    kind_nll[k] += o.kind_nll[k];
    kind_tokens[k] += o.kind_tokens[k];
  }
}

nlohmann::json Likelihood::to_json() const {
  const double t = static_cast<double>(tokens), n = static_cast<double>(notes);
  nlohmann::json per_token = ratio(nll_sum, t);
  nlohmann::json j{{"file", file}, {"tokens", tokens}, {"nll_sum", nll_sum}, {"nll_per_token", per_token},
                   {"perplexity", per_token.is_null() ? nlohmann::json(nullptr) : nlohmann::json(std::exp(nll_sum / t))},
                   {"accuracy", ratio(static_cast<double>(correct), t)}, {"notes", notes}, {"beats", beats}, {"seconds", seconds},
                   {"nll_per_note", ratio(nll_sum, n)}, {"nll_per_beat", ratio(nll_sum, beats)}, {"nll_per_second", ratio(nll_sum, seconds)}};
  nlohmann::json kinds = nlohmann::json::object();
  for (int k = 0; k < music::kTokenKinds; ++k) {
    const auto i = static_cast<std::size_t>(k);
    if (kind_tokens[i] == 0) continue;
    kinds[music::token_kind_name(static_cast<music::TokenKind>(k))] = {
        {"tokens", kind_tokens[i]}, {"nll_sum", kind_nll[i]}, {"nll_per_token", ratio(kind_nll[i], static_cast<double>(kind_tokens[i]))},
        {"nll_per_note", ratio(kind_nll[i], n)}, {"share", ratio(kind_nll[i], nll_sum)}};
  }
  j["by_kind"] = kinds;
  const double pitched_notes = static_cast<double>(notes - drum_notes);
  j["pitched"] = {{"notes", notes - drum_notes}, {"nll_sum", nll_sum - drum_nll}, {"nll_per_note", ratio(nll_sum - drum_nll, pitched_notes)}};
  if (drum_notes > 0 || drum_tokens > 0) {
    j["drums"] = {{"notes", drum_notes}, {"tokens", drum_tokens}, {"nll_sum", drum_nll}, {"nll_per_note", ratio(drum_nll, static_cast<double>(drum_notes))}};
  }
  return j;
}

Likelihood piece_likelihood(const std::string& file, const std::vector<std::uint16_t>& ids, const std::vector<float>& token_nll,
                            const std::vector<bool>& right, const std::vector<music::TokenKind>& kinds, const music::Score& decoded,
                            const std::vector<bool>& drum_ids) {
  if (ids.size() >= 2 && (token_nll.size() != ids.size() - 1 || right.size() != token_nll.size())) {
    throw Error(fmt::format("{}: {} token scores for {} tokens", file, token_nll.size(), ids.size()));
  }
  Likelihood l;
  l.file = file;
  for (std::size_t i = 0; i < token_nll.size(); ++i) {
    const std::uint16_t id = ids[i + 1];
    if (id >= kinds.size()) throw Error(fmt::format("{}: token id {} outside the vocabulary of {}", file, id, kinds.size()));
    l.add(kinds[id], token_nll[i], right[i]);
    const bool drum = !drum_ids.empty() && (drum_ids[id] || (kinds[id] == music::TokenKind::kVelocity && drum_ids[ids[i]]));
    if (drum) l.drum_nll += token_nll[i], ++l.drum_tokens;
  }
  l.notes = static_cast<std::int64_t>(decoded.notes.size());
  for (const auto& n : decoded.notes) l.drum_notes += n.drum();
  l.beats = static_cast<double>(decoded.end_tick()) / decoded.ticks_per_quarter;
  l.seconds = decoded.seconds(decoded.end_tick());
  return l;
}

}  // namespace arioso::eval
