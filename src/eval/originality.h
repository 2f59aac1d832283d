// Originality: music as a sequence of onsets (the notes starting at one moment: their pitches
// and the time since the previous onset), and an index of a training corpus (a suffix
// automaton over all pieces' onsets) that finds the longest verbatim copy and can tell, one
// onset at a time, whether a continuation would extend a copy beyond K onsets. No libtorch.
#pragma once
#include "data/corpus.h"
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "music/score.h"

namespace arioso::eval {

/// One onset: its symbol (hash of pitch set and time since the previous onset) and its time.
struct Onset {
  std::uint64_t symbol = 0;
  double seconds = 0;
};

/// Onsets of a score on the 12-per-quarter grid (drums excluded). The first onset's "time since
/// the previous onset" is its time from the start.
std::vector<Onset> onsets(const music::Score& score);
/// Just the symbols of onsets(score), the form the copy index takes.
std::vector<std::uint64_t> onset_symbols(const music::Score& score);
/// Symbol of an onset from its sorted pitches and its distance to the previous onset (grid units).
std::uint64_t onset_symbol(const std::vector<int>& sorted_pitches, std::int64_t delta_grid);

struct CopyReport {
  std::size_t longest_onsets = 0;  ///< longest run of consecutive onsets found verbatim in one piece
  double longest_seconds = 0;      ///< its duration in the generated piece (first to last onset)
  int piece = -1;                  ///< index of the reference piece it comes from (-1: none)
  std::size_t end = 0;             ///< index one past the copy's last onset in the generated sequence
};

/// Generalized suffix automaton over the onset sequences of reference pieces.
class CopyIndex {
 public:
  CopyIndex() { clear(); }
  /// Adds one reference piece's onset symbols; returns its index.
  int add_piece(const std::vector<std::uint64_t>& symbols);
  std::size_t pieces() const { return piece_lengths_.size(); }
  std::size_t piece_length(int piece) const { return piece_lengths_[static_cast<std::size_t>(piece)]; }

  /// A position in the automaton: the longest suffix of what was fed that occurs in a piece.
  struct Cursor {
    int state = 0;
    std::size_t length = 0;
  };
  /// The cursor after appending `symbol`.
  Cursor step(Cursor c, std::uint64_t symbol) const;
  /// Whether step(c, symbol).length > k (the gate's question), without step's walk down the
  /// suffix links to the root when there is no match: only states whose match is k or longer
  /// can give one longer than k, so a cursor shorter than k answers at once.
  bool exceeds(Cursor c, std::uint64_t symbol, std::size_t k) const;
  /// The reference piece holding the match a cursor stands for.
  int piece_of(Cursor c) const;
  /// Longest copy of `seq` from any piece (with seconds taken from `seq`).
  CopyReport longest_copy(const std::vector<Onset>& seq) const;

  /// Serialized form: the pieces' symbol sequences (the automaton is rebuilt on load, in linear time).
  std::vector<std::uint8_t> serialize() const;
  static CopyIndex deserialize(const std::vector<std::uint8_t>& bytes, const std::string& path);

 private:
  void clear();
  void extend(std::uint64_t symbol, int piece);
  int transition(int state, std::uint64_t symbol) const;
  void set_transition(int from, std::uint64_t symbol, int to);
  void copy_transitions(int from, int to);
  struct State {
    std::size_t len = 0;
    int link = -1;
    int piece = -1;  // a piece in which this state's strings end
  };
  std::vector<State> states_;
  struct KeyHash {
    std::size_t operator()(const std::pair<int, std::uint64_t>& k) const {
      return std::hash<std::uint64_t>()(k.second * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(k.first));
    }
  };
  std::unordered_map<std::pair<int, std::uint64_t>, int, KeyHash> next_;  // (state, symbol) -> state
  std::vector<std::vector<std::uint64_t>> symbols_;  // per state: symbols with a transition
  std::vector<std::vector<std::uint64_t>> sequences_;
  std::vector<std::size_t> piece_lengths_;
  int last_ = 0;
};

/// Brute force longest common run (for tests): max k such that seq[i..i+k) equals ref[j..j+k).
std::size_t brute_force_longest_copy(const std::vector<std::uint64_t>& seq, const std::vector<std::vector<std::uint64_t>>& refs);

/// Share of the n-grams of `seq` that occur in no reference piece (1 if seq has no n-gram).
double novel_ngram_share(const std::vector<std::uint64_t>& seq, const CopyIndex& index, std::size_t n);

/// The copy index of a corpus's training pieces, written to `index_path` (CopyIndex::serialize)
/// with the pieces' files and onset counts as JSON in `sources_path`; pieces that do not decode
/// are left out. Both files are written atomically.
void write_copy_index(const data::Corpus& corpus, const std::string& index_path, const std::string& sources_path);

}  // namespace arioso::eval
