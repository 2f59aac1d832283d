// How likely a REMI model finds a repeated bar where a bar's body begins (right after its
// opening: Bar, TimeSig, Key), against how often one comes: on held-out pieces (teacher forced)
// and on the model's own pieces (prepared into a corpus with the same tokenizer). A calibrated
// model that repeats as often as the corpus gives a mean P(Repeat) near the actual share.
// Usage: repeat_probe CHECKPOINT CORPUS SPLIT (valid | test | train | all)
#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/corpus.h"
#include "model/checkpoint.h"
#include "music/pitch_view.h"
#include "music/remi.h"

using namespace arioso;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: repeat_probe CHECKPOINT CORPUS valid|test|train|all\n");
    return 2;
  }
  torch::NoGradGuard no_grad;
  model::CheckpointMeta meta;
  auto m = model::load_checkpoint(argv[1], &meta);
  m->eval();
  const auto corpus = data::read_corpus(argv[2]);
  const std::string split = argv[3];
  const int repeat0 = music::remi_first_id(music::RemiKind::kRepeat), repeats = music::remi_count(music::RemiKind::kRepeat);
  double p_sum = 0, p_when = 0, p_else = 0;
  long points = 0, actual = 0;
  std::vector<double> by_k(static_cast<std::size_t>(repeats)), real_k(static_cast<std::size_t>(repeats));
  for (const auto& piece : corpus.pieces) {
    if (split != "all" && data::split_name(piece.split) != split) continue;
    std::vector<std::uint16_t> ids = piece.tokens;
    music::to_model_ids(ids, music::PitchView::named(meta.model.pitch_view));
    auto x = torch::from_blob(ids.data(), {1, static_cast<long>(ids.size())}, torch::kShort).to(torch::kLong);
    model::State st;
    std::vector<torch::Tensor> parts;
    for (long i = 0; i < x.size(1); i += 512) parts.push_back(m->forward(x.slice(1, i, std::min(x.size(1), i + 512)), &st));
    auto probs = torch::softmax(torch::cat(parts, 1)[0].to(torch::kDouble), -1);  // (T, V)
    bool opening = false;
    int bars = 0;
    for (std::size_t t = 0; t + 1 < piece.tokens.size(); ++t) {
      const auto kind = music::remi_kind(piece.tokens[t]);
      if (kind == music::RemiKind::kBar) opening = true, ++bars;
      if (!opening) continue;
      const auto next = music::remi_kind(piece.tokens[t + 1]);
      if (next == music::RemiKind::kTimeSig || next == music::RemiKind::kKey) continue;
      opening = false;
      if (bars < 2) continue;  // the first bar never repeats (it states the tempo and the header)
      auto row = probs[static_cast<long>(t)].slice(0, repeat0, repeat0 + repeats);
      const double p = row.sum().item<double>();
      const bool is_repeat = next == music::RemiKind::kRepeat;
      ++points;
      p_sum += p;
      (is_repeat ? p_when : p_else) += p;
      actual += is_repeat;
      for (int k = 0; k < repeats; ++k) by_k[static_cast<std::size_t>(k)] += row[k].item<double>();
      if (is_repeat) real_k[static_cast<std::size_t>(music::remi_value(piece.tokens[t + 1]) - 1)] += 1;
    }
  }
  if (points == 0) {
    std::printf("no bar openings in split %s\n", split.c_str());
    return 1;
  }
  std::printf("bar openings %ld, repeats %ld (%.3f); mean P(Repeat) %.3f; where a repeat came %.3f, where none %.3f\n", points, actual,
              static_cast<double>(actual) / static_cast<double>(points), p_sum / static_cast<double>(points),
              actual ? p_when / static_cast<double>(actual) : 0.0, points > actual ? p_else / static_cast<double>(points - actual) : 0.0);
  std::printf("k: mean P / actual share");
  for (int k : {1, 2, 3, 4, 8, 16}) std::printf("  %d: %.3f/%.3f", k, by_k[static_cast<std::size_t>(k - 1)] / static_cast<double>(points), real_k[static_cast<std::size_t>(k - 1)] / static_cast<double>(points));
  std::printf("\n");
  return 0;
}
