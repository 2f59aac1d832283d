// Cost of the originality gate: builds the copy index of a corpus's training pieces, then
// replays its validation pieces onset by onset, asking at each onset what the classic
// tokenizer's gate asks (one automaton step per vocabulary entry) and what REMI's asks (one).
// Usage: gate_bench CORPUS
#include <chrono>
#include <cstdio>

#include "data/corpus.h"
#include "eval/originality.h"

using namespace arioso;

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gate_bench CORPUS\n");
    return 2;
  }
  data::Corpus c = data::read_corpus(argv[1]);
  auto symbols_of = [&](const data::Piece& p) {
    std::vector<std::string> t;
    for (auto id : p.tokens) t.push_back(c.vocab.token(id));
    return eval::onset_symbols(music::detokenize(t, c.tokenizer));
  };
  double t0 = now();
  eval::CopyIndex index;
  std::size_t onsets = 0;
  std::vector<std::vector<std::uint64_t>> held;
  for (const auto& p : c.pieces) {
    auto s = symbols_of(p);
    if (p.split == data::Split::kTrain) {
      index.add_piece(s);
      onsets += s.size();
    } else {
      held.push_back(s);
    }
  }
  double build = now() - t0;
  std::size_t steps = 0, lookups = 0;
  t0 = now();
  for (const auto& s : held) {
    eval::CopyIndex::Cursor cur;
    for (auto sym : s) {
      for (int v = 0; v < c.vocab.size(); ++v) {
        lookups += index.step(cur, sym + static_cast<std::uint64_t>(v)).length;  // V candidate continuations
      }
      cur = index.step(cur, sym);
      ++steps;
    }
  }
  double per_step = (now() - t0) / static_cast<double>(steps);
  std::printf("index of %zu training onsets built in %.2f s; gate per step: %.1f us for %d candidates (%.3f us per candidate)%s\n",
              onsets, build, per_step * 1e6, c.vocab.size(), per_step * 1e6 / c.vocab.size(), lookups == 1 ? " " : "");
  return 0;
}
