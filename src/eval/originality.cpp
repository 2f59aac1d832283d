// Onsets and the copy index; see originality.h.
#include "eval/originality.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"

namespace arioso::eval {

std::uint64_t onset_symbol(const std::vector<int>& pitches, std::int64_t delta_grid) {
  std::uint64_t h = fnv1a64(&delta_grid, sizeof delta_grid);
  for (int p : pitches) h = fnv1a64(&p, sizeof p, h);
  return h;
}

std::vector<Onset> onsets(const music::Score& score) {
  std::map<std::int64_t, std::vector<int>> at;  // grid time -> pitches
  const std::uint64_t tpq = static_cast<std::uint64_t>(score.ticks_per_quarter);
  for (const auto& n : score.notes) {
    if (!n.drum()) at[music::tick_to_grid(n.start_tick, score.ticks_per_quarter)].push_back(n.pitch);
  }
  midi::TempoMap tempo(score.tempos, score.ticks_per_quarter);
  std::vector<Onset> out;
  std::int64_t prev = 0;
  for (auto& [g, pitches] : at) {
    std::sort(pitches.begin(), pitches.end());
    pitches.erase(std::unique(pitches.begin(), pitches.end()), pitches.end());
    out.push_back({onset_symbol(pitches, g - prev), tempo.seconds(static_cast<std::uint64_t>(g) * tpq / music::kGridPerQuarter)});
    prev = g;
  }
  return out;
}

std::vector<std::uint64_t> onset_symbols(const music::Score& score) {
  std::vector<std::uint64_t> out;
  for (const auto& o : onsets(score)) out.push_back(o.symbol);
  return out;
}

void CopyIndex::clear() {
  states_.assign(1, State{});
  symbols_.assign(1, {});
  next_.clear();
  sequences_.clear();
  piece_lengths_.clear();
  last_ = 0;
}

int CopyIndex::transition(int state, std::uint64_t symbol) const {
  auto it = next_.find({state, symbol});
  return it == next_.end() ? -1 : it->second;
}

void CopyIndex::set_transition(int from, std::uint64_t symbol, int to) {
  auto [it, inserted] = next_.insert_or_assign({from, symbol}, to);
  (void)it;
  if (inserted) symbols_[static_cast<std::size_t>(from)].push_back(symbol);
}

void CopyIndex::copy_transitions(int from, int to) {
  symbols_.resize(states_.size());
  for (std::uint64_t sym : symbols_[static_cast<std::size_t>(from)]) set_transition(to, sym, transition(from, sym));
}

void CopyIndex::extend(std::uint64_t c, int piece) {
  // Generalized suffix automaton (online construction with the "existing transition" case).
  int q = transition(last_, c);
  if (q >= 0) {
    if (states_[static_cast<std::size_t>(q)].len == states_[static_cast<std::size_t>(last_)].len + 1) {
      last_ = q;
      return;
    }
    int clone = static_cast<int>(states_.size());
    states_.push_back({states_[static_cast<std::size_t>(last_)].len + 1, states_[static_cast<std::size_t>(q)].link,
                       states_[static_cast<std::size_t>(q)].piece});
    copy_transitions(q, clone);
    for (int p = last_; p >= 0 && transition(p, c) == q; p = states_[static_cast<std::size_t>(p)].link) next_[{p, c}] = clone;
    states_[static_cast<std::size_t>(q)].link = clone;
    last_ = clone;
    return;
  }
  int cur = static_cast<int>(states_.size());
  states_.push_back({states_[static_cast<std::size_t>(last_)].len + 1, -1, piece});
  symbols_.resize(states_.size());
  int p = last_;
  while (p >= 0 && transition(p, c) < 0) {
    set_transition(p, c, cur);
    p = states_[static_cast<std::size_t>(p)].link;
  }
  if (p < 0) {
    states_[static_cast<std::size_t>(cur)].link = 0;
  } else {
    int q2 = transition(p, c);
    if (states_[static_cast<std::size_t>(p)].len + 1 == states_[static_cast<std::size_t>(q2)].len) {
      states_[static_cast<std::size_t>(cur)].link = q2;
    } else {
      int clone = static_cast<int>(states_.size());
      states_.push_back({states_[static_cast<std::size_t>(p)].len + 1, states_[static_cast<std::size_t>(q2)].link,
                         states_[static_cast<std::size_t>(q2)].piece});
      copy_transitions(q2, clone);
      for (; p >= 0 && transition(p, c) == q2; p = states_[static_cast<std::size_t>(p)].link) next_[{p, c}] = clone;
      states_[static_cast<std::size_t>(q2)].link = clone;
      states_[static_cast<std::size_t>(cur)].link = clone;
    }
  }
  last_ = cur;
}

int CopyIndex::add_piece(const std::vector<std::uint64_t>& symbols) {
  int piece = static_cast<int>(piece_lengths_.size());
  piece_lengths_.push_back(symbols.size());
  sequences_.push_back(symbols);
  last_ = 0;
  for (auto s : symbols) extend(s, piece);
  return piece;
}

CopyIndex::Cursor CopyIndex::step(Cursor c, std::uint64_t symbol) const {
  int v = c.state;
  std::size_t l = c.length;
  while (v != 0 && transition(v, symbol) < 0) {
    v = states_[static_cast<std::size_t>(v)].link;
    l = states_[static_cast<std::size_t>(v)].len;
  }
  int t = transition(v, symbol);
  if (t >= 0) return {t, l + 1};
  return {0, 0};
}

bool CopyIndex::exceeds(Cursor c, std::uint64_t symbol, std::size_t k) const {
  int v = c.state;
  std::size_t l = c.length;
  while (l >= k) {  // step() returns the first state on this walk with a transition, matched l + 1
    if (transition(v, symbol) >= 0) return true;
    if (v == 0) return false;
    v = states_[static_cast<std::size_t>(v)].link;
    l = states_[static_cast<std::size_t>(v)].len;
  }
  return false;
}

int CopyIndex::piece_of(Cursor c) const { return c.length == 0 ? -1 : states_[static_cast<std::size_t>(c.state)].piece; }

CopyReport CopyIndex::longest_copy(const std::vector<Onset>& seq) const {
  CopyReport r;
  Cursor c;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    c = step(c, seq[i].symbol);
    if (c.length > r.longest_onsets) {
      r.longest_onsets = c.length;
      r.piece = piece_of(c);
      r.end = i + 1;
      r.longest_seconds = seq[i].seconds - seq[i + 1 - c.length].seconds;
    }
  }
  return r;
}

std::vector<std::uint8_t> CopyIndex::serialize() const {
  std::vector<std::uint8_t> out = {'A', 'R', 'I', 'O', 'C', 'P', 'Y', '1'};
  auto put64 = [&](std::uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); };
  put64(sequences_.size());
  for (const auto& s : sequences_) {
    put64(s.size());
    for (auto x : s) put64(x);
  }
  return out;
}

CopyIndex CopyIndex::deserialize(const std::vector<std::uint8_t>& b, const std::string& path) {
  if (b.size() < 16 || std::memcmp(b.data(), "ARIOCPY1", 8) != 0) {
    throw FormatError(fmt::format("{}: not an arioso copy index (re-run 'arioso train' to rebuild it)", path));
  }
  std::size_t p = 8;
  auto get64 = [&]() {
    if (b.size() - p < 8) throw FormatError(fmt::format("{}: copy index truncated at byte {}", path, p));
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{b[p + static_cast<std::size_t>(i)]} << (8 * i);
    p += 8;
    return v;
  };
  CopyIndex idx;
  std::uint64_t n = get64();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = get64();
    if (len > (b.size() - p) / 8) throw FormatError(fmt::format("{}: copy index truncated", path));
    std::vector<std::uint64_t> s(len);
    for (auto& x : s) x = get64();
    idx.add_piece(s);
  }
  return idx;
}

std::size_t brute_force_longest_copy(const std::vector<std::uint64_t>& seq, const std::vector<std::vector<std::uint64_t>>& refs) {
  std::size_t best = 0;
  for (const auto& ref : refs) {
    for (std::size_t i = 0; i < seq.size(); ++i) {
      for (std::size_t j = 0; j < ref.size(); ++j) {
        std::size_t k = 0;
        while (i + k < seq.size() && j + k < ref.size() && seq[i + k] == ref[j + k]) ++k;
        best = std::max(best, k);
      }
    }
  }
  return best;
}

double novel_ngram_share(const std::vector<std::uint64_t>& seq, const CopyIndex& index, std::size_t n) {
  if (n == 0 || seq.size() < n) return 1.0;
  std::size_t novel = 0, total = seq.size() - n + 1;
  // An n-gram occurs in a reference piece iff the match ending at its last symbol is >= n long.
  CopyIndex::Cursor c;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    c = index.step(c, seq[i]);
    if (i + 1 >= n && c.length < n) ++novel;
  }
  return static_cast<double>(novel) / static_cast<double>(total);
}

void write_copy_index(const data::Corpus& corpus, const std::string& index_path, const std::string& sources_path) {
  CopyIndex index;
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& p : corpus.pieces) {
    if (p.split != data::Split::kTrain) continue;
    std::vector<std::string> tokens;
    for (auto t : p.tokens) tokens.push_back(corpus.vocab.token(t));
    std::vector<std::uint64_t> sym;
    try {
      sym = onset_symbols(music::detokenize(tokens, corpus.tokenizer));
    } catch (const Error&) {
      continue;
    }
    index.add_piece(sym);
    sources.push_back({{"file", p.source}, {"onsets", sym.size()}});
  }
  write_file_atomic(index_path, index.serialize());
  write_file_atomic(sources_path, sources.dump() + "\n");
}

}  // namespace arioso::eval
