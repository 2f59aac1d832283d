// Metrics against values computed by hand on small constructed pieces (MusPy's definitions and
// edge cases), the overlapping area, and the copy index against brute force.
#include <cmath>
#include <random>
#include <set>

#include "eval/analyze.h"
#include "eval/metrics.h"
#include "eval/originality.h"
#include "core/error.h"
#include "eval/likelihood.h"
#include "eval/structure.h"
#include "music/remi.h"
#include "music/key.h"
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

// --- Structure and key (eval/structure.h, music/key.h) on hand-made pieces.

namespace {

/// Block chords of `len` ticks, one after another from `start`.
void add_chords(Score& s, std::uint64_t start, std::uint64_t len, const std::vector<std::vector<int>>& chords) {
  for (const auto& c : chords) {
    for (int p : c) {
      music::Note n;
      n.start_tick = start;
      n.end_tick = start + len;
      n.pitch = p;
      n.velocity = 80;
      s.notes.push_back(n);
    }
    start += len;
  }
}

const std::vector<std::vector<int>> kCadenceC = {{60, 64, 67}, {65, 69, 72}, {67, 71, 74}, {60, 64, 67}};  // I IV V I
const std::vector<std::vector<int>> kCadenceG = {{67, 71, 74}, {60, 64, 67}, {62, 66, 69}, {67, 71, 74}};

}  // namespace

TEST(Key, ScalesAndCadences) {
  EXPECT_EQ(music::estimate_key(c_major_scale()).name(), "C:major");
  Score cadence;
  add_chords(cadence, 0, 1920, kCadenceC);
  EXPECT_EQ(music::estimate_key(cadence).name(), "C:major");
  // A minor: i iv V i with the raised leading tone, and its scale.
  Score a_minor;
  add_chords(a_minor, 0, 1920, {{57, 60, 64}, {62, 65, 69}, {64, 68, 71}, {57, 60, 64}});
  EXPECT_EQ(music::estimate_key(a_minor).name(), "A:minor");
  Score a_scale = piece({{0, 960, 57}, {960, 1440, 59}, {1440, 1920, 60}, {1920, 2400, 62}, {2400, 3360, 64}, {3360, 3840, 65},
                         {3840, 4320, 68}, {4320, 6240, 69}});
  EXPECT_EQ(music::estimate_key(a_scale).name(), "A:minor");
  // Transposing moves the tonic and keeps the mode; the correlation stays.
  Score up = cadence;
  for (auto& n : up.notes) n.pitch += 3;
  EXPECT_EQ(music::estimate_key(up).name(), "Eb:major");
  EXPECT_NEAR(music::estimate_key(up).correlation, music::estimate_key(cadence).correlation, 1e-12);
  EXPECT_EQ(music::estimate_key(Score{}).correlation, 0);
}

TEST(Key, AModulationIsFoundBySection) {
  // Eight bars of C major cadences, then eight of G major: two sections.
  Score s;
  add_chords(s, 0, 1920, kCadenceC);
  add_chords(s, 4 * 1920, 1920, kCadenceC);
  add_chords(s, 8 * 1920, 1920, kCadenceG);
  add_chords(s, 12 * 1920, 1920, kCadenceG);
  auto sections = music::key_sections(s, 4);
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].key.name(), "C:major");
  EXPECT_EQ(sections[0].first_bar, 0);
  EXPECT_EQ(sections[0].last_bar, 7);
  EXPECT_EQ(sections[1].key.name(), "G:major");
  EXPECT_EQ(sections[1].first_bar, 8);
  EXPECT_EQ(sections[1].last_bar, 15);
  EXPECT_EQ(sections[1].start_tick, 8u * 1920);
  // Twelve bars of C, then four of G: three windows of four agree with the piece's key.
  Score mostly_c;
  for (int b = 0; b < 3; ++b) add_chords(mostly_c, static_cast<std::uint64_t>(b) * 4 * 1920, 1920, kCadenceC);
  add_chords(mostly_c, 12 * 1920, 1920, kCadenceG);
  EXPECT_DOUBLE_EQ(eval::key_stability(mostly_c), 0.75);
  EXPECT_DOUBLE_EQ(eval::key_stability(s), 0.5);
  EXPECT_TRUE(std::isnan(eval::key_stability(Score{})));
}

TEST(Structure, RepeatedBars) {
  // Bars A, B, A, A up a tone, and an empty bar then B: exact repeats 2 of 5, transposed 3 of 5.
  const std::vector<std::pair<int, int>> a = {{0, 60}, {480, 64}, {960, 67}}, b = {{0, 62}, {960, 65}};
  Score s;
  auto bar = [&](int index, const std::vector<std::pair<int, int>>& notes, int shift) {
    for (auto [at, p] : notes) {
      std::uint64_t t = static_cast<std::uint64_t>(index) * 1920 + static_cast<std::uint64_t>(at);
      s.notes.push_back({t, t + 240, p + shift, 80, 0, 0, 0});
    }
  };
  bar(0, a, 0);
  bar(1, b, 0);
  bar(2, a, 0);
  bar(3, a, 2);
  bar(5, b, 0);
  EXPECT_DOUBLE_EQ(eval::repeated_bar_rate(s, false), 2.0 / 5);
  EXPECT_DOUBLE_EQ(eval::repeated_bar_rate(s, true), 3.0 / 5);
  auto m = eval::bar_self_similarity(s);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_FLOAT_EQ(m[0][0], 1.f);
  EXPECT_FLOAT_EQ(m[0][2], 1.f);
  EXPECT_FLOAT_EQ(m[1][5], 1.f);
  EXPECT_FLOAT_EQ(m[0][1], 0.f);  // no onset in common
  EXPECT_FLOAT_EQ(m[0][3], 0.f);  // transposed: other pitches
  EXPECT_FLOAT_EQ(m[4][4], 0.f);  // an empty bar
  // One onset in common out of 3 + 2 - 1 = 4 distinct.
  Score t;
  t.notes = {{0, 240, 60, 80, 0, 0, 0}, {480, 720, 64, 80, 0, 0, 0}, {960, 1200, 67, 80, 0, 0, 0},
             {1920, 2160, 60, 80, 0, 0, 0}, {2880, 3120, 65, 80, 0, 0, 0}};
  EXPECT_FLOAT_EQ(eval::bar_self_similarity(t)[0][1], 0.25f);
  EXPECT_TRUE(std::isnan(eval::repeated_bar_rate(Score{}, false)));
  // Bars follow the time signature: in 3/4, the same three quarter notes repeat every bar.
  Score w;
  w.time_signatures = {{0, 3, 4}};
  for (int i = 0; i < 9; ++i) w.notes.push_back({static_cast<std::uint64_t>(i) * 480, static_cast<std::uint64_t>(i) * 480 + 480, 60 + 2 * (i % 3), 80, 0, 0, 0});
  EXPECT_DOUBLE_EQ(eval::repeated_bar_rate(w, false), 2.0 / 3);
}

TEST(Structure, NotesHeldIntoTheirPartsNextOnset) {
  // A bass line: C held over the next onset (0-720 against 480), D ending at the next (480-960
  // against 960), E the last (never counted). A piano chord of two notes struck together at 0,
  // both ending at 1440 after the piano's next onset at 960: 2 held. Drums never count.
  Score s = piece({{0, 720, 36}, {480, 960, 38}, {960, 1440, 40}});
  for (auto& n : s.notes) n.program = 33;
  Score piano = piece({{0, 1440, 60}, {0, 1440, 64}, {960, 1200, 67}});
  Score drums = piece({{0, 960, 36}, {480, 540, 38}}, 9);
  s.notes.insert(s.notes.end(), piano.notes.begin(), piano.notes.end());
  s.notes.insert(s.notes.end(), drums.notes.begin(), drums.notes.end());
  EXPECT_DOUBLE_EQ(eval::held_over_rate(s), 3.0 / 4);  // of C, D, and the chord's two notes
  EXPECT_TRUE(std::isnan(eval::held_over_rate(drums)));
  EXPECT_TRUE(std::isnan(eval::held_over_rate(piece({{0, 480, 60}, {0, 480, 64}}))));  // one onset: nothing after
  EXPECT_DOUBLE_EQ(eval::compute_metrics(s).at("held_over_rate"), 3.0 / 4);
}

TEST(Structure, DissonantSimultaneities) {
  // A C major triad (3 consonant pairs), then C with F# (a tritone), then a held C under a
  // struck C# (a minor second): 2 of 5 pairs; drums never count.
  Score s = piece({{0, 480, 60}, {0, 480, 64}, {0, 480, 67}, {480, 960, 60}, {480, 960, 66}, {960, 1920, 48}, {1440, 1920, 61}});
  EXPECT_DOUBLE_EQ(eval::dissonance_rate(s), 2.0 / 5);
  Score drums = piece({{0, 480, 36}, {0, 480, 37}}, 9);
  EXPECT_TRUE(std::isnan(eval::dissonance_rate(drums)));
  Score sevenths = piece({{0, 480, 60}, {0, 480, 71}, {0, 480, 84}});  // B-C a major seventh and a minor ninth; C-C an octave
  EXPECT_DOUBLE_EQ(eval::dissonance_rate(sevenths), 2.0 / 3);
}

TEST(Likelihood, SplitsTheLossByKindAndUnit) {
  using K = music::TokenKind;
  const std::vector<K> kinds = {K::kStructure, K::kPitch, K::kTiming, K::kDuration};
  // Tokens 0 1 2 1 3: the first has no prediction; the others cost 1, 2, 3, 4 nats.
  Score decoded = piece({{0, 960, 60}, {960, 1920, 62}});  // 2 notes, 4 beats, 2 s at 120 BPM
  auto l = eval::piece_likelihood("x.mid", {0, 1, 2, 1, 3}, {1, 2, 3, 4}, {true, false, true, true}, kinds, decoded);
  auto j = l.to_json();
  EXPECT_EQ(j["tokens"], 4);
  EXPECT_DOUBLE_EQ(j["nll_sum"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(j["nll_per_token"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.75);
  EXPECT_EQ(j["notes"], 2);
  EXPECT_DOUBLE_EQ(j["nll_per_note"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(j["nll_per_beat"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j["nll_per_second"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(j["by_kind"]["pitch"]["nll_sum"].get<double>(), 4);   // tokens 1 and 3
  EXPECT_EQ(j["by_kind"]["pitch"]["tokens"], 2);
  EXPECT_DOUBLE_EQ(j["by_kind"]["timing"]["nll_per_note"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(j["by_kind"]["duration"]["share"].get<double>(), 0.4);
  EXPECT_FALSE(j["by_kind"].contains("structure"));  // the first token is never scored
  double by_kind = 0;
  for (const auto& [k, v] : j["by_kind"].items()) by_kind += v["nll_sum"].get<double>();
  EXPECT_DOUBLE_EQ(by_kind, 10);
  eval::Likelihood total;
  total.merge(l);
  total.merge(l);
  EXPECT_DOUBLE_EQ(total.to_json()["nll_per_note"].get<double>(), 5);
  EXPECT_TRUE(total.to_json()["by_kind"]["pitch"]["nll_sum"].get<double>() == 8);
  EXPECT_THROW(eval::piece_likelihood("x.mid", {0, 1, 2}, {1}, {true}, kinds, decoded), arioso::Error);
  // REMI's kinds come from the token names.
  auto remi = music::token_kinds(music::remi_vocabulary(), music::TokenizerConfig{});
  const music::Vocab v = music::Vocab::for_remi();
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Pitch_60"))], K::kPitch);
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Position_3"))], K::kTiming);
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Velocity_71"))], K::kVelocity);
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Duration_12"))], K::kDuration);
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Bar"))], K::kStructure);
  EXPECT_EQ(remi[static_cast<std::size_t>(v.id("Tempo_120"))], K::kStructure);
}

// The originality gate's onsets over several parts: an onset is the pitched notes that start
// together, whatever instruments play them (a melody copied onto another instrument is still a
// copy), and drums are not counted (a common groove is shared vocabulary, not a copy).
TEST(Originality, AnOnsetOfSeveralParts) {
  Score one = piece({{0, 480, 48}, {0, 480, 64}, {480, 960, 67}});
  Score band = one;
  band.notes[0].program = 33, band.notes[0].channel = 1;  // the 48 on a bass
  band.notes[2].program = 40, band.notes[2].channel = 2;  // the 67 on a violin
  Score drums = piece({{0, 60, 36}, {240, 300, 42}, {480, 540, 38}}, 9);
  band.notes.insert(band.notes.end(), drums.notes.begin(), drums.notes.end());
  EXPECT_EQ(eval::onset_symbols(band), eval::onset_symbols(one));
  EXPECT_EQ(eval::onset_symbols(band).size(), 2u);  // the hi-hat alone at 240 is no onset
  // So a piece quoting the band's pitched notes on other instruments is a copy of its onsets.
  eval::CopyIndex index;
  index.add_piece(eval::onset_symbols(band));
  EXPECT_EQ(index.longest_copy(eval::onsets(one)).longest_onsets, 2u);
}

TEST(Metrics, Instruments) {
  Score s = piece({{0, 480, 40}, {480, 960, 64}, {1920, 2400, 67}});
  s.notes[0].program = 33;
  Score drums = piece({{0, 60, 36}, {480, 540, 38}, {960, 1020, 36}, {1440, 1500, 38}}, 9);
  s.notes.insert(s.notes.end(), drums.notes.begin(), drums.notes.end());
  auto m = eval::compute_metrics(s);
  EXPECT_EQ(m.at("instruments"), 3);     // bass, piano, drums
  EXPECT_EQ(m.at("drum_part"), 1);
  EXPECT_DOUBLE_EQ(m.at("drum_hits_per_bar"), 2.0);  // 4 hits over 2 bars of 4/4
  EXPECT_TRUE(std::isnan(eval::compute_metrics(piece({{0, 480, 60}})).at("drum_hits_per_bar")));
  // The likelihood split: a Drum token and the Velocity after it are the drums'; the rest the pitched parts'.
  using K = music::TokenKind;
  const std::vector<K> kinds = {K::kStructure, K::kPitch, K::kVelocity, K::kPitch};  // 0 Bar, 1 Pitch, 2 Velocity, 3 Drum
  const std::vector<bool> drum_ids = {false, false, false, true};
  auto l = eval::piece_likelihood("x.mid", {0, 1, 2, 3, 2}, {1, 2, 3, 4}, {true, true, true, true}, kinds, s, drum_ids);
  auto j = l.to_json();
  EXPECT_DOUBLE_EQ(j["drums"]["nll_sum"].get<double>(), 7);  // the Drum (3) and its Velocity (4)
  EXPECT_EQ(j["drums"]["notes"], 4);
  EXPECT_DOUBLE_EQ(j["pitched"]["nll_sum"].get<double>(), 3);
  EXPECT_DOUBLE_EQ(j["pitched"]["nll_per_note"].get<double>(), 1);  // 3 nats over 3 pitched notes
}

// Usual ranges are the reference's 5th-95th percentile pitch per instrument; a part is in range
// with at least 90% of its notes inside, and the reference's own pieces are measured the same way.
TEST(Analyze, UsualRangesCompareWithTheReferencesOwn) {
  auto analyzed = [](Score s, const std::string& name) {
    eval::AnalyzedPiece p;
    p.file = name;
    p.metrics = eval::compute_metrics(s);
    p.score = std::move(s);
    return p;
  };
  // Reference: a bass (program 33) on 40..59 and a piano on 60..79, one note a beat.
  eval::PieceSet ref;
  for (int k = 0; k < 2; ++k) {
    std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> n;
    for (int i = 0; i < 10; ++i) n.emplace_back(480 * (10 * k + i), 480 * (10 * k + i + 1), 40 + 10 * k + i);
    for (int i = 0; i < 10; ++i) n.emplace_back(480 * (10 * k + i), 480 * (10 * k + i + 1), 60 + 10 * k + i);
    Score s = piece(n);
    for (std::size_t i = 0; i < 10; ++i) s.notes[i].program = 33;
    ref.pieces.push_back(analyzed(s, "ref" + std::to_string(k)));
  }
  // 20 pitches each: the 5th percentile is index 0 (0.95 of 19 rounds down), the 95th index 18.
  // So bass 40..58 and piano 60..78 (the highest of each is out).
  // Generated: a bass all inside (10 of 10), a piano with 8 of 10 inside (80%: not in range).
  std::vector<std::tuple<std::uint64_t, std::uint64_t, int>> n;
  for (int i = 0; i < 10; ++i) n.emplace_back(480 * i, 480 * (i + 1), 45 + i);
  for (int i = 0; i < 10; ++i) n.emplace_back(480 * i, 480 * (i + 1), i < 8 ? 62 + i : 90 + i);
  Score g = piece(n);
  for (std::size_t i = 0; i < 10; ++i) g.notes[i].program = 33;
  eval::PieceSet gen;
  gen.pieces.push_back(analyzed(g, "gen"));
  auto j = eval::analyze(gen, &ref);
  EXPECT_EQ(j["reference_ranges"]["33"]["p5"], 40);
  EXPECT_EQ(j["reference_ranges"]["33"]["p95"], 58);
  EXPECT_EQ(j["reference_ranges"]["0"]["p95"], 78);
  const auto& parts = j["pieces"][0]["parts"];
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_DOUBLE_EQ(parts[0]["in_usual_range"].get<double>(), 0.8);  // piano (program 0) first
  EXPECT_DOUBLE_EQ(parts[1]["in_usual_range"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["pieces"][0]["notes_in_usual_range"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(j["pieces"][0]["parts_in_usual_range"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["generated"]["parts_in_usual_range"]["mean"].get<double>(), 0.5);
  // The reference's own: ref0 has every note inside (1, 1); ref1 loses its two highest notes
  // (59 and 79: 18 of 20 inside, each part 90%: still in range).
  EXPECT_DOUBLE_EQ(j["reference"]["notes_in_usual_range"]["mean"].get<double>(), (1.0 + 0.9) / 2);
  EXPECT_DOUBLE_EQ(j["reference"]["parts_in_usual_range"]["mean"].get<double>(), 1.0);
}
