// REMI's Repeat_k (music/remi.h): a bar that is the bar k back again is its opening and one
// token. Exact encodings of hand-made bars, the bijection on random pieces built of repeats,
// the written-out form and its inverse, and what the grammar allows and refuses.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "midi/midi_file.h"
#include "music/remi.h"
#include "music/score.h"
#include "music/tokenizer.h"

using namespace arioso;
using music::Note;
using music::RemiOptions;
using music::Score;

namespace {

const RemiOptions kOpt = music::tokenizer_named("remi").remi;
const music::Vocab kVocab = music::Vocab::for_remi(kOpt);

std::string join(const std::vector<std::string>& t) {
  std::string s;
  for (const auto& x : t) s += (s.empty() ? "" : " ") + x;
  return s;
}

/// A bar of 4/4 (480 ticks per quarter) holding `pitches` struck together on its first beat.
void add_bar(Score& s, int bar, std::vector<int> pitches, int program = 0) {
  for (int p : pitches) s.notes.push_back({static_cast<std::uint64_t>(bar) * 1920, static_cast<std::uint64_t>(bar) * 1920 + 480, p, 90, 0, program, 0});
}

/// A random piece of 4/4 bars: each a copy of one up to 40 bars back, or new notes of a few
/// instruments (drums among them) at random positions, values and lengths.
Score repeating_score(std::mt19937& rng) {
  Score s;
  s.ticks_per_quarter = 480;
  const int bars = std::uniform_int_distribution<int>(1, 60)(rng);
  std::vector<std::vector<Note>> made;
  for (int b = 0; b < bars; ++b) {
    std::vector<Note> bar;
    if (b > 0 && rng() % 2) {
      const int k = std::uniform_int_distribution<int>(1, std::min(b, 40))(rng);
      for (Note n : made[static_cast<std::size_t>(b - k)]) {
        n.start_tick += static_cast<std::uint64_t>(k) * 1920;
        n.end_tick += static_cast<std::uint64_t>(k) * 1920;
        bar.push_back(n);
      }
    } else {
      const int n = std::uniform_int_distribution<int>(0, 6)(rng);
      for (int i = 0; i < n; ++i) {
        Note x;
        x.start_tick = static_cast<std::uint64_t>(b) * 1920 + 40 * std::uniform_int_distribution<std::uint64_t>(0, 47)(rng);
        x.end_tick = x.start_tick + 40 * std::uniform_int_distribution<std::uint64_t>(1, 60)(rng);
        x.velocity = rng() % 2 ? 90 : std::uniform_int_distribution<int>(1, 127)(rng);
        if (rng() % 4 == 0) {
          x.channel = 9;
          x.pitch = std::uniform_int_distribution<int>(35, 46)(rng);
        } else {
          x.program = rng() % 2 ? 0 : 33;
          x.channel = x.program == 0 ? 0 : 1;
          x.pitch = std::uniform_int_distribution<int>(40, 80)(rng);
        }
        bar.push_back(x);
      }
    }
    made.push_back(bar);
    s.notes.insert(s.notes.end(), bar.begin(), bar.end());
  }
  if (rng() % 3 == 0) s.tempos.push_back({static_cast<std::uint64_t>(rng() % 20) * 1920, 400000});
  return s;
}

/// Notes as (start, end, pitch, velocity, program, drum), sorted, for comparing music.
std::vector<std::tuple<std::uint64_t, std::uint64_t, int, int, int, bool>> notes_of(const Score& s) {
  std::vector<std::tuple<std::uint64_t, std::uint64_t, int, int, int, bool>> out;
  for (const auto& n : s.notes) out.emplace_back(n.start_tick, n.end_tick, n.pitch, n.velocity, n.drum() ? -1 : n.program, n.drum());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(RemiRepeat, TheTokensEndTheVocabulary) {
  const auto with = music::remi_vocabulary(kOpt), without = music::remi_vocabulary(music::written_out(kOpt));
  ASSERT_EQ(without.size(), 518u);  // runs from before keep their ids
  ASSERT_EQ(with.size(), 550u);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin()));
  EXPECT_EQ(with[518], "Repeat_1");
  EXPECT_EQ(with[549], "Repeat_32");
  EXPECT_EQ(music::remi_kind(518), music::RemiKind::kRepeat);
  EXPECT_EQ(music::remi_value(549), 32);
  EXPECT_TRUE(kOpt.repeats);
  EXPECT_FALSE(music::tokenizer_named("remi-no-repeats").remi.repeats);
  EXPECT_EQ(music::token_kinds({"Repeat_4"}, music::tokenizer_named("remi"))[0], music::TokenKind::kStructure);
}

TEST(RemiRepeat, ABarThatComesAgainIsItsOpeningAndOneToken) {
  // Bars: C; E+G; E+G; C; E+G (E minor, as the encoder estimates it). Bar 3 is bar 2 again (Repeat_1); bar 5 is bar 3 again, the
  // nearest equal body (Repeat_2, not 3). Bar 4 sounds like bar 1 but is no Repeat: the first
  // bar's body states the tempo and the values that later bars inherit.
  Score s;
  add_bar(s, 0, {60});
  add_bar(s, 1, {64, 67});
  add_bar(s, 2, {64, 67});
  add_bar(s, 3, {60});
  add_bar(s, 4, {64, 67});
  const auto tokens = music::remi_encode(s, kOpt);
  EXPECT_EQ(join(tokens),
            "Bar TimeSig_4/4 Key_E:minor Program_0 Position_0 Tempo_120 Program_0 Pitch_60 Velocity_95 Duration_12 "
            "Bar Key_E:minor Position_0 Program_0 Pitch_64 Pitch_67 "
            "Bar Key_E:minor Repeat_1 "
            "Bar Key_E:minor Position_0 Program_0 Pitch_60 "
            "Bar Key_E:minor Repeat_2");
  EXPECT_EQ(join(music::remi_expand_repeats(tokens)), join(music::remi_encode(s, music::written_out(kOpt))));
  EXPECT_EQ(notes_of(music::remi_decode(tokens, kOpt)), notes_of(music::remi_quantize(s, kOpt)));
  EXPECT_EQ(music::tokenize(music::score_to_midi(s), music::tokenizer_named("remi")), tokens);
}

TEST(RemiRepeat, BijectionOnRandomPiecesOfRepeats) {
  std::mt19937 rng(77);
  std::size_t repeats = 0;
  for (int i = 0; i < 200; ++i) {
    const Score s = repeating_score(rng);
    for (bool compact : {true, false}) {
      for (bool keys : {true, false}) {
        RemiOptions opt{compact, keys, true, true, true};
        const std::string what = fmt::format("piece {} (compact {}, keys {})", i, compact, keys);
        const auto tokens = music::remi_encode(s, opt);
        const auto written = music::remi_encode(s, music::written_out(opt));
        repeats += static_cast<std::size_t>(std::count_if(tokens.begin(), tokens.end(), [](const std::string& t) { return t.rfind("Repeat_", 0) == 0; }));
        ASSERT_EQ(music::remi_expand_repeats(tokens), written) << what;
        ASSERT_EQ(music::remi_collapse_repeats(written), tokens) << what;
        const Score d = music::remi_decode(tokens, opt);
        ASSERT_EQ(notes_of(d), notes_of(music::remi_quantize(s, opt))) << what;
        ASSERT_EQ(music::remi_encode(d, opt), tokens) << what << ": one encoding";
        const Score back = music::score_from_midi(midi::read_midi(midi::write_midi(music::score_to_midi(d))));
        ASSERT_EQ(music::remi_encode(back, opt), tokens) << what << " (through MIDI bytes)";
        // The grammar takes the encoding, and refuses the written-out form wherever it differs:
        // at the Bar that closes a body a Repeat would have stated.
        music::RemiGrammar g(opt);
        for (std::size_t t = 0; t < tokens.size(); ++t) ASSERT_TRUE(g.feed(kVocab.id(tokens[t]))) << what << " token " << t << " " << tokens[t];
        if (written != tokens) {
          auto closed = written;
          closed.push_back("Bar");  // a last bar is closed by the next
          music::RemiGrammar w(opt);
          std::size_t t = 0;
          while (t < closed.size() && w.feed(kVocab.id(closed[t]))) ++t;
          ASSERT_LT(t, closed.size()) << what;
          EXPECT_EQ(closed[t], "Bar") << what;
        }
      }
    }
  }
  EXPECT_GT(repeats, 700u);  // the pieces do repeat
}

TEST(RemiRepeat, TheGrammarAllowsARepeatOnlyWhereItsBodyIsValid) {
  // Compact: bar 2 states Velocity_71, so after it the same body would state a velocity that
  // does not change: Repeat_1 is refused at bar 3; bar 1's body states the tempo in force: so
  // is Repeat_2. A bar with a new velocity makes bar 2's body valid again 2 bars on.
  const std::vector<std::string> head = {"Bar", "TimeSig_4/4", "Key_E:minor", "Program_0", "Position_0", "Tempo_120", "Program_0", "Pitch_60",
                                         "Velocity_95", "Duration_12", "Bar", "Key_E:minor", "Position_0", "Program_0", "Pitch_60", "Velocity_71",
                                         "Bar", "Key_E:minor"};
  music::RemiGrammar g(kOpt);
  for (const auto& t : head) ASSERT_TRUE(g.feed(kVocab.id(t))) << t;
  std::vector<bool> a;
  g.allowed(a);
  EXPECT_FALSE(a[static_cast<std::size_t>(kVocab.id("Repeat_1"))]);
  EXPECT_FALSE(a[static_cast<std::size_t>(kVocab.id("Repeat_2"))]);
  EXPECT_TRUE(a[static_cast<std::size_t>(kVocab.id("Position_0"))]);
  for (const char* t : {"Position_0", "Program_0", "Pitch_60", "Velocity_95", "Bar", "Key_E:minor"}) ASSERT_TRUE(g.feed(kVocab.id(t))) << t;
  g.allowed(a);
  EXPECT_TRUE(a[static_cast<std::size_t>(kVocab.id("Repeat_2"))]);
  EXPECT_FALSE(a[static_cast<std::size_t>(kVocab.id("Repeat_3"))]);  // bar 1 again
  EXPECT_FALSE(a[static_cast<std::size_t>(kVocab.id("Repeat_1"))]);  // bar 3: Velocity_95 would not change
  EXPECT_FALSE(a[static_cast<std::size_t>(kVocab.id("Repeat_4"))]);  // no such bar
  ASSERT_TRUE(g.feed(kVocab.id("Repeat_2")));
  // A repeated bar ends there: only the next Bar may follow.
  g.allowed(a);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], static_cast<int>(i) == kVocab.id("Bar")) << kVocab.token(static_cast<int>(i));
  EXPECT_EQ(g.position(), 0);
  EXPECT_EQ(g.bars(), 4);
  // The first bar has nothing to repeat, and a bar with nothing in it is never repeated.
  music::RemiGrammar h(kOpt);
  for (const char* t : {"Bar", "TimeSig_4/4", "Key_E:minor", "Program_0"}) ASSERT_TRUE(h.feed(kVocab.id(t)));
  EXPECT_FALSE(h.feed(kVocab.id("Repeat_1")));
  for (const char* t : {"Position_0", "Tempo_120", "Program_0", "Pitch_60", "Velocity_95", "Duration_12", "Bar", "Key_E:minor", "Bar", "Key_E:minor"}) {
    ASSERT_TRUE(h.feed(kVocab.id(t))) << t;
  }
  EXPECT_FALSE(h.feed(kVocab.id("Repeat_1")));
}

TEST(RemiRepeat, ARepeatThatPointsAtNothingIsAClearError) {
  auto expand = [](std::vector<std::string> t) { music::remi_expand_repeats(t); };
  EXPECT_THROW(expand({"Repeat_1"}), Error);
  try {
    expand({"Bar", "TimeSig_4/4", "Repeat_1"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "token 2: 'Repeat_1' points at no earlier bar with notes");
  }
  try {
    expand({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12", "Bar", "Position_0", "Repeat_1"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "token 9: 'Repeat_1' must come right after a bar's opening");
  }
  try {
    expand({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12", "Bar", "Repeat_1", "Position_12"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "token 9: 'Position_12' after a Repeat (a repeated bar ends there)");
  }
  EXPECT_EQ(join(music::remi_expand_repeats({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12", "Bar", "Repeat_1"})),
            "Bar TimeSig_4/4 Position_0 Tempo_120 Pitch_60 Velocity_95 Duration_12 Bar Position_0 Tempo_120 Pitch_60 Velocity_95 Duration_12");
  // Through decode, which checks the grammar of what the Repeat stands for.
  EXPECT_THROW(music::remi_decode({"Bar", "TimeSig_4/4", "Key_E:minor", "Repeat_1"}, kOpt), Error);
}
