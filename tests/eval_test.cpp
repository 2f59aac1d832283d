// Metrics against values computed by hand on small constructed pieces (MusPy's definitions and
// edge cases), the overlapping area, and the copy index against brute force.
#include <cmath>
#include <random>
#include <set>

#include "eval/metrics.h"
#include "eval/originality.h"
#include "test_util.h"

using namespace arioso;
using music::Score;

namespace {

Score piece(const std::vector<std::tuple<std::uint64_t, std::uint64_t, int>>& notes, int channel = 0) {
  Score s;
  s.ticks_per_quarter = 480;
  for (auto [a, b, p] : notes) {
    music::Note n;
    n.start_tick = a;
    n.end_tick = b;
    n.pitch = p;
    n.velocity = 80;
    n.channel = channel;
    s.notes.push_back(n);
  }
  return s;
}

Score c_major_scale() {
  std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> n;
  int pitches[] = {60, 62, 64, 65, 67, 69, 71, 72};
  for (int i = 0; i < 8; ++i) n.emplace_back(480 * i, 480 * (i + 1), pitches[i]);
  return piece(n);
}

}  // namespace

TEST(Metrics, CMajorScale) {
  Score s = c_major_scale();
  EXPECT_EQ(eval::pitch_range(s), 12);
  EXPECT_EQ(eval::n_pitches_used(s), 8);
  EXPECT_EQ(eval::n_pitch_classes_used(s), 7);
  EXPECT_DOUBLE_EQ(eval::polyphony(s), 1.0);
  EXPECT_DOUBLE_EQ(eval::polyphony_rate(s), 0.0);
  EXPECT_DOUBLE_EQ(eval::scale_consistency(s), 1.0);
  EXPECT_DOUBLE_EQ(eval::pitch_in_scale_rate(s, 0, false), 1.0);
  EXPECT_DOUBLE_EQ(eval::pitch_in_scale_rate(s, 2, false), 5.0 / 8);  // in D major: D E G A B; not C (twice), F
  EXPECT_DOUBLE_EQ(eval::pitch_entropy(s), 3.0);
  EXPECT_DOUBLE_EQ(eval::pitch_class_entropy(s), 2.75);  // C twice: 0.5 + 6 x 0.375
  EXPECT_DOUBLE_EQ(eval::empty_beat_rate(s), 0.0);       // 9 beats (length // 480 + 1), all touched
  EXPECT_DOUBLE_EQ(eval::empty_measure_rate(s, 1920), 0.0);
  EXPECT_DOUBLE_EQ(eval::groove_consistency(s, 1920), 1.0 - 4.0 / (1920 * 2));
  EXPECT_DOUBLE_EQ(eval::notes_per_beat(s), 1.0);
  EXPECT_EQ(eval::distinct_ioi(s), 1);
}

TEST(Metrics, ChordProgression) {
  Score s = piece({{0, 960, 60}, {0, 960, 64}, {0, 960, 67}, {960, 1920, 65}, {960, 1920, 69}, {960, 1920, 72},
                   {1920, 2880, 67}, {1920, 2880, 71}, {1920, 2880, 74}});
  EXPECT_EQ(eval::pitch_range(s), 14);
  EXPECT_DOUBLE_EQ(eval::polyphony(s), 3.0);
  EXPECT_DOUBLE_EQ(eval::polyphony_rate(s), 1.0);  // MusPy counts steps with more than 2 pitches
  EXPECT_DOUBLE_EQ(eval::scale_consistency(s), 1.0);
  EXPECT_EQ(eval::n_pitch_classes_used(s), 7);
  EXPECT_EQ(eval::distinct_ioi(s), 1);
}

TEST(Metrics, EmptyBars) {
  // A note in bar 1, nothing in bar 2, a note in bar 3.
  Score s = piece({{0, 480, 60}, {3840, 4320, 62}});
  EXPECT_DOUBLE_EQ(eval::empty_measure_rate(s, 1920), 1.0 / 3);  // 3 measures, 2 touched
  EXPECT_DOUBLE_EQ(eval::empty_beat_rate(s), 0.6);                // 10 beats, 4 touched
  EXPECT_DOUBLE_EQ(eval::polyphony_rate(s), 0.0);
  EXPECT_DOUBLE_EQ(eval::polyphony(s), 1.0);
}

TEST(Metrics, SwungRhythm) {
  std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> n;
  for (int beat = 0; beat < 8; ++beat) {
    n.emplace_back(480 * beat, 480 * beat + 320, 67);
    n.emplace_back(480 * beat + 320, 480 * beat + 480, 64);
  }
  Score s = piece(n);
  EXPECT_EQ(eval::distinct_ioi(s), 2);  // long-short: 2/3 and 1/3 of a beat
  auto ioi = eval::inter_onset_intervals(s);
  ASSERT_EQ(ioi.size(), 15u);
  EXPECT_NEAR(ioi[0], 2.0 / 3, 1e-12);
  EXPECT_NEAR(ioi[1], 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(eval::notes_per_beat(s), 2.0);
}

TEST(Metrics, MusPyEdgeCases) {
  Score empty = piece({});
  EXPECT_EQ(eval::pitch_range(empty), 0);
  EXPECT_EQ(eval::n_pitches_used(empty), 0);
  EXPECT_TRUE(std::isnan(eval::polyphony(empty)));
  EXPECT_TRUE(std::isnan(eval::polyphony_rate(empty)));
  EXPECT_TRUE(std::isnan(eval::scale_consistency(empty)));
  EXPECT_TRUE(std::isnan(eval::pitch_entropy(empty)));
  EXPECT_TRUE(std::isnan(eval::pitch_class_entropy(empty)));
  EXPECT_TRUE(std::isnan(eval::empty_beat_rate(empty)));
  EXPECT_TRUE(std::isnan(eval::groove_consistency(empty, 1920)));
  Score drums = piece({{0, 240, 36}, {480, 720, 38}}, 9);
  EXPECT_EQ(eval::pitch_range(drums), -127);  // MusPy: highest 0 - lowest 127 when only drums
  EXPECT_EQ(eval::n_pitches_used(drums), 0);
  EXPECT_TRUE(std::isnan(eval::polyphony(drums)));
  EXPECT_DOUBLE_EQ(eval::polyphony_rate(drums), 0.0);
  EXPECT_TRUE(std::isnan(eval::scale_consistency(drums)));
  EXPECT_DOUBLE_EQ(eval::empty_beat_rate(drums), 0.0);  // drums count here, as in MusPy
}

TEST(Metrics, OverlappingArea) {
  std::mt19937 rng(2);
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> a, b, far;
  for (int i = 0; i < 60; ++i) a.push_back(n01(rng)), b.push_back(n01(rng)), far.push_back(100 + n01(rng));
  EXPECT_GT(eval::overlapping_area(a, b), 0.7);
  EXPECT_LT(eval::overlapping_area(a, far), 0.01);
  EXPECT_TRUE(std::isnan(eval::overlapping_area({1.0}, b)));
}

TEST(Originality, IndexEqualsBruteForce) {
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int> alphabet(0, 1 + trial % 4), len(0, 40);
    std::vector<std::vector<std::uint64_t>> refs(static_cast<std::size_t>(1 + trial % 5));
    eval::CopyIndex index;
    for (auto& r : refs) {
      int n = len(rng);
      for (int i = 0; i < n; ++i) r.push_back(static_cast<std::uint64_t>(alphabet(rng)));
      index.add_piece(r);
    }
    std::vector<eval::Onset> seq;
    std::vector<std::uint64_t> sym;
    int n = len(rng);
    for (int i = 0; i < n; ++i) {
      sym.push_back(static_cast<std::uint64_t>(alphabet(rng)));
      seq.push_back({sym.back(), static_cast<double>(i)});
    }
    auto rep = index.longest_copy(seq);
    ASSERT_EQ(rep.longest_onsets, eval::brute_force_longest_copy(sym, refs)) << "trial " << trial;
    if (rep.longest_onsets > 0) {
      // The reported piece really holds the copied run.
      const auto& r = refs[static_cast<std::size_t>(rep.piece)];
      std::vector<std::uint64_t> run(sym.begin() + static_cast<long>(rep.end - rep.longest_onsets), sym.begin() + static_cast<long>(rep.end));
      ASSERT_NE(std::search(r.begin(), r.end(), run.begin(), run.end()), r.end()) << "trial " << trial;
      EXPECT_DOUBLE_EQ(rep.longest_seconds, static_cast<double>(rep.longest_onsets - 1));
    }
    for (std::size_t k : {1u, 2u, 4u}) {
      std::set<std::vector<std::uint64_t>> grams;
      for (const auto& r : refs) for (std::size_t i = 0; i + k <= r.size(); ++i) grams.insert({r.begin() + static_cast<long>(i), r.begin() + static_cast<long>(i + k)});
      std::size_t novel = 0, total = 0;
      for (std::size_t i = 0; i + k <= sym.size(); ++i, ++total) novel += !grams.count({sym.begin() + static_cast<long>(i), sym.begin() + static_cast<long>(i + k)});
      double expect = total ? static_cast<double>(novel) / static_cast<double>(total) : 1.0;
      ASSERT_DOUBLE_EQ(eval::novel_ngram_share(sym, index, k), expect) << "trial " << trial << " n " << k;
    }
    // Serialization keeps the index.
    auto back = eval::CopyIndex::deserialize(index.serialize(), "x");
    ASSERT_EQ(back.longest_copy(seq).longest_onsets, rep.longest_onsets);
    // The gate's shortcut answers as step() does, for every cursor along the sequence and
    // along a reference piece (long matches), every symbol and every K.
    std::vector<std::vector<std::uint64_t>> walks{sym};
    if (!refs[0].empty()) walks.push_back(refs[0]);
    for (const auto& w : walks) {
      eval::CopyIndex::Cursor c;
      for (std::size_t i = 0; i <= w.size(); ++i) {
        for (std::uint64_t x = 0; x <= 5; ++x) {
          for (std::size_t k = 0; k <= 12; ++k) {
            ASSERT_EQ(index.exceeds(c, x, k), index.step(c, x).length > k) << "trial " << trial << " at " << i << " symbol " << x << " K " << k;
          }
        }
        if (i < w.size()) c = index.step(c, w[i]);
      }
    }
  }
}
