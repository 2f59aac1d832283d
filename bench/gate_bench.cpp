// Cost of the originality gate: builds the copy index of a corpus's training pieces, then
// replays its validation pieces onset by onset, asking at each onset what the classic
// tokenizer's gate asks (one automaton step per vocabulary entry) and what REMI's asks (one).
// Usage: gate_bench CORPUS
#include <algorithm>
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
  // Two replays, asking at each onset what the classic tokenizer's gate asks of every
  // vocabulary entry: held-out pieces (short matches), and training pieces (every prefix is a
  // copy: the cursor sits at K, as when generating from a corpus primer near the gate). Each
  // through step() (the walk the gate first made) and through exceeds() (the gate now).
  const std::size_t K = 16;
  auto replay = [&](const std::vector<std::vector<std::uint64_t>>& seqs, bool shortcut) {
    std::size_t steps = 0, hits = 0;
    double t = now();
    for (const auto& s : seqs) {
      eval::CopyIndex::Cursor cur;
      for (auto sym : s) {
        for (int v = 0; v < c.vocab.size(); ++v) {
          auto x = sym + static_cast<std::uint64_t>(v);  // V candidate continuations
          hits += shortcut ? index.exceeds(cur, x, K) : index.step(cur, x).length > K;
        }
        cur = index.step(cur, sym);
        if (cur.length > K) cur = index.step(eval::CopyIndex::Cursor{}, sym);  // the gate keeps matches at K at most
        ++steps;
      }
    }
    return std::make_pair((now() - t) / static_cast<double>(std::max<std::size_t>(steps, 1)) * 1e6, hits);
  };
  std::vector<std::vector<std::uint64_t>> train;
  for (const auto& p : c.pieces) if (p.split == data::Split::kTrain) train.push_back(symbols_of(p));
  std::printf("index of %zu training onsets built in %.2f s; gate per step, %d candidates, K = %zu:\n", onsets, build, c.vocab.size(), K);
  for (int which = 0; which < 2; ++which) {
    const auto& seqs = which == 0 ? held : train;
    auto old_way = replay(seqs, false), new_way = replay(seqs, true);
    std::printf("  %-34s step(): %7.1f us   exceeds(): %6.2f us   (%.0fx; same answers: %s)\n",
                which == 0 ? "held-out pieces (short matches)" : "training pieces (matches at K)", old_way.first, new_way.first,
                old_way.first / std::max(new_way.first, 1e-3), old_way.second == new_way.second ? "yes" : "NO");
  }
  return 0;
}
