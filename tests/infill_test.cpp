// The fill-in-the-middle arrangement (music/infill.h): its markers in the vocabulary, and that
// context and middle together hold exactly the music of the bars they cover, on random pieces,
// for every kind of span (every part, some parts, a part added; at the start, the end, over a
// meter change).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "music/infill.h"
#include "music/key.h"
#include "music/remi.h"
#include "music/tokenizer.h"
#include "tunes.h"

using namespace arioso;
using music::FillSpan;
using music::Note;
using music::Score;

namespace {

const music::RemiOptions kOpt = music::tokenizer_named("remi").remi;

Score random_band(std::mt19937& rng) {
  Score s;
  s.ticks_per_quarter = 480;
  const int n = std::uniform_int_distribution<int>(0, 120)(rng);
  for (int i = 0; i < n; ++i) {
    Note x;
    x.start_tick = std::uniform_int_distribution<std::uint64_t>(0, 480 * 48)(rng);
    x.end_tick = x.start_tick + std::uniform_int_distribution<std::uint64_t>(1, 480 * 6)(rng);
    const int part = std::uniform_int_distribution<int>(0, 4)(rng);
    if (part == 4) {
      x.channel = 9;
      x.pitch = std::uniform_int_distribution<int>(35, 60)(rng);
    } else {
      x.program = part * 10;
      x.channel = part;
      x.pitch = std::uniform_int_distribution<int>(30, 90)(rng);
    }
    x.velocity = std::uniform_int_distribution<int>(1, 127)(rng);
    s.notes.push_back(x);
  }
  if (rng() % 2) s.time_signatures = {{0, 4, 4}, {480 * 16, 3, 4}, {480 * 25, 6, 8}};
  if (rng() % 2) s.tempos = {{0, 600000}, {480 * 20, 400000}};
  std::sort(s.notes.begin(), s.notes.end(), [](const Note& a, const Note& b) { return std::tie(a.start_tick, a.pitch) < std::tie(b.start_tick, b.pitch); });
  return s;
}

/// What a note is, whatever its channel (decoding numbers channels anew) and, for a drum, its
/// length (a hit lasts until the same drum's next, which a part of the piece may not hold).
using NoteKey = std::tuple<std::uint64_t, std::uint64_t, int, int, int>;
NoteKey key_of(const Note& n) {
  return {n.start_tick, n.drum() ? 0 : n.end_tick, n.pitch, n.velocity, n.drum() ? 128 : n.program};
}

/// The notes of a context's tokens (Hole and Fill left out) at their place in the piece.
std::vector<Note> context_notes(const music::FillArrangement& fa, const std::vector<std::uint64_t>& bars) {
  std::vector<std::string> t;
  for (const auto& x : fa.context) if (x != "Hole" && x != "Fill") t.push_back(x);
  if (std::none_of(t.begin(), t.end(), [](const std::string& x) { return x.rfind("Position_", 0) == 0; })) return {};  // no notes
  Score c = music::remi_decode(t, kOpt);
  for (auto& n : c.notes) n.start_tick += bars[static_cast<std::size_t>(fa.from_bar)], n.end_tick += bars[static_cast<std::size_t>(fa.from_bar)];
  return c.notes;
}

void check_inverse(const Score& q, const FillSpan& span, int from, int to, const std::string& what) {
  const auto keys = music::remi_bar_keys(q);
  const auto fa = music::remi_fill_arrange(q, keys, from, to, span, kOpt);
  const auto bars = music::remi_bar_ticks(q, to);
  ASSERT_EQ(fa.context.back(), "Fill") << what;
  ASSERT_EQ(fa.middle.back(), "FillEnd") << what;
  EXPECT_EQ(std::count(fa.context.begin(), fa.context.end(), "Hole"), span.end_bar - span.first_bar) << what;
  EXPECT_EQ(std::count(fa.context.begin(), fa.context.end(), "Bar"), to - from) << what;
  // Context and middle hold every note that starts in the region, each once (but a part being
  // added plays nowhere else).
  std::vector<NoteKey> want, got;
  const std::uint64_t a = bars[static_cast<std::size_t>(span.first_bar)], b = bars[static_cast<std::size_t>(span.end_bar)];
  for (const auto& n : q.notes) {
    if (n.start_tick < bars[static_cast<std::size_t>(from)] || n.start_tick >= bars[static_cast<std::size_t>(to)]) continue;
    if (span.absent && span.fills_instrument(n) && (n.start_tick < a || n.start_tick >= b)) continue;
    want.push_back(key_of(n));
  }
  for (const auto& n : context_notes(fa, bars)) got.push_back(key_of(n));
  for (const auto& n : music::remi_fill_notes(fa.middle, bars, span, kOpt)) {
    ASSERT_GE(n.start_tick, bars[static_cast<std::size_t>(span.first_bar)]) << what;
    ASSERT_LT(n.start_tick, bars[static_cast<std::size_t>(span.end_bar)]) << what;
    ASSERT_TRUE(span.fills_instrument(n)) << what;
    got.push_back(key_of(n));
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got, want) << what;
}

}  // namespace

TEST(Infill, MarkersEndTheVocabulary) {
  auto with = music::remi_vocabulary(music::written_out(kOpt));  // Repeat_k come after (remi_repeat_test)
  auto without = music::remi_vocabulary({true, true, true, false});
  ASSERT_EQ(without.size(), 515u);  // runs with instruments from before infilling keep their ids
  ASSERT_EQ(with.size(), 518u);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin()));
  EXPECT_EQ(with[515], "Hole");
  EXPECT_EQ(with[516], "Fill");
  EXPECT_EQ(with[517], "FillEnd");
  // A piece's grammar never allows them: they frame pieces, they are not in one.
  music::RemiGrammar g(kOpt);
  std::vector<bool> a;
  for (const char* t : {"Bar", "TimeSig_4/4", "Key_C:major", "Program_0", "Position_0", "Tempo_120", "Program_0", "Pitch_60", "Velocity_71", "Duration_12"}) {
    g.allowed(a);
    for (int id = 515; id < 518; ++id) EXPECT_FALSE(a[static_cast<std::size_t>(id)]) << "after " << t;
    ASSERT_TRUE(g.feed(music::Vocab::for_remi(kOpt).id(t))) << t;
  }
  EXPECT_FALSE(g.feed(516));
}

TEST(Infill, ArrangementAndItsInverseOnRandomPieces) {
  std::mt19937 rng(77);
  for (int i = 0; i < 300; ++i) {
    const Score q = music::remi_quantize(random_band(rng), kOpt);
    const int n = static_cast<int>(music::remi_bar_ticks(q).size()) - 1;
    if (n < 1) continue;
    FillSpan span;
    span.first_bar = std::uniform_int_distribution<int>(0, n - 1)(rng);
    span.end_bar = std::uniform_int_distribution<int>(span.first_bar + 1, n + 2)(rng);  // may reach past the last note
    const int mode = i % 3;
    if (mode > 0) {
      span.instruments.assign(129, false);
      for (int p : {0, 10, 20, 30, 128}) span.instruments[static_cast<std::size_t>(p)] = rng() % 2;
      span.absent = mode == 2;
    }
    const int from = std::uniform_int_distribution<int>(0, span.first_bar)(rng);
    const int to = std::uniform_int_distribution<int>(span.end_bar, span.end_bar + 3)(rng);
    check_inverse(q, span, from, to, fmt::format("piece {} bars {}-{} of {}-{} mode {}", i, span.first_bar, span.end_bar, from, to, mode));
  }
}

TEST(Infill, SpansAtTheEdgesAndOverAMeterChange) {
  Score band = test::band_tune(5, 64);  // 8 bars of 4/4
  band.time_signatures = {{0, 4, 4}, {480 * 12, 3, 4}};  // bars 0-2 in 4/4, then 3/4
  const Score q = music::remi_quantize(band, kOpt);
  const int n = static_cast<int>(music::remi_bar_ticks(q).size()) - 1;
  ASSERT_GT(n, 8);
  for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {0, 3}, {n - 1, n}, {2, 5}, {4, 5}, {0, n}}) {
    FillSpan span;
    span.first_bar = a;
    span.end_bar = b;
    check_inverse(q, span, 0, n, fmt::format("bars {}-{}", a, b));
    span.instruments.assign(129, false);
    span.instruments[33] = true;  // the bass
    check_inverse(q, span, 0, n, fmt::format("bass in bars {}-{}", a, b));
  }
  // A middle keeps the piece's meter: its bars are the span's.
  FillSpan over;
  over.first_bar = 2;
  over.end_bar = 4;
  const auto fa = music::remi_fill_arrange(q, music::remi_bar_keys(q), 0, n, over, kOpt);
  EXPECT_EQ(fa.middle[1], "TimeSig_4/4");
  EXPECT_NE(std::find(fa.middle.begin(), fa.middle.end(), "TimeSig_3/4"), fa.middle.end());
}

TEST(Infill, TrainingExamplesFitTheirWindow) {
  std::mt19937_64 rng(5);
  const Score q = music::remi_quantize(test::band_tune(7, 400), kOpt);
  const auto tokens = music::remi_encode(q, music::written_out(kOpt));  // what each bar costs written out, as training counts
  std::vector<std::uint16_t> ids;
  const auto vocab = music::Vocab::for_remi(kOpt);
  for (const auto& t : tokens) ids.push_back(static_cast<std::uint16_t>(vocab.id(t)));
  const auto per_bar = music::remi_tokens_per_bar(ids);
  ASSERT_EQ(per_bar.size(), 50u);
  int all = 0, subset = 0;
  for (int i = 0; i < 200; ++i) {
    auto fa = music::remi_fill_example(q, music::remi_bar_keys(q), per_bar, rng, 257, kOpt);
    const std::size_t size = fa.context.size() + fa.middle.size();
    EXPECT_LE(size, 257u + 40u) << i;  // the budget is by the bars' plain tokens: close, not exact
    EXPECT_GE(size, 150u) << i;        // and the context uses it
    EXPECT_EQ(fa.context.back(), "Fill");
    EXPECT_EQ(fa.middle.back(), "FillEnd");
    const long holes = std::count(fa.context.begin(), fa.context.end(), "Hole");
    EXPECT_GE(holes, 1);
    EXPECT_LE(holes, 4);
    std::vector<std::string> middle(fa.middle.begin(), fa.middle.end() - 1);
    const Score m = music::remi_decode(middle, kOpt);  // a piece of its own
    std::vector<bool> plays(129, false);
    for (const auto& n : m.notes) plays[n.drum() ? 128 : static_cast<std::size_t>(n.program)] = true;
    const int kinds = plays[0] + plays[33] + plays[128];
    if (kinds == 3) ++all;
    else ++subset;
  }
  EXPECT_GT(all, 60);  // half of them fill every part (a span of every part may rest)
  EXPECT_GT(subset, 60);
}
