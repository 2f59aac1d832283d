// Scores, the classic tokenizer (against the music21 5.x oracle where ../shared exists), the
// REMI tokenizer (goldens, bijection on random scores and on every real file, transposition,
// grammar), corpora on disk and `prepare` of a folder with a broken file.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "data/corpus.h"
#include "data/plausibility.h"
#include "data/prepare.h"
#include "midi/midi_file.h"
#include "music/classic.h"
#include "music/instruments.h"
#include "music/key.h"
#include "music/pitch.h"
#include "music/remi.h"
#include "music/score.h"
#include "music/tokenizer.h"
#include "test_util.h"
#include "tunes.h"

using namespace arioso;
using namespace arioso::test;
namespace fs = std::filesystem;
using music::Score;

namespace {

/// A one-track file from (start, end, pitch[, velocity, channel]) notes at `tpq`.
struct N {
  std::uint64_t start, end;
  int pitch;
  int velocity = 80;
  int channel = 0;
};
midi::MidiFile file_of(const std::vector<N>& notes, int tpq = 480, std::vector<midi::Event> extra = {}) {
  midi::MidiFile f;
  f.division.ticks_per_quarter = static_cast<std::uint16_t>(tpq);
  f.tracks.resize(1);
  std::vector<std::pair<int, midi::Event>> ev;
  for (auto& e : extra) ev.emplace_back(0, e);
  for (const auto& n : notes) {
    ev.emplace_back(1, midi::make_channel(n.start, 0x90, n.channel, n.pitch, n.velocity));
    ev.emplace_back(0, midi::make_channel(n.end, 0x80, n.channel, n.pitch, 0));
  }
  std::stable_sort(ev.begin(), ev.end(), [](auto& a, auto& b) { return std::tie(a.second.tick, a.first) < std::tie(b.second.tick, b.first); });
  for (auto& e : ev) f.tracks[0].events.push_back(e.second);
  return midi::read_midi(midi::write_midi(f));
}

std::vector<std::string> remi(const midi::MidiFile& f) {
  music::TokenizerConfig c;
  return music::tokenize(f, c);
}
std::vector<std::string> classic(const midi::MidiFile& f, bool m21 = false) {
  music::TokenizerConfig c;
  c.name = "classic";
  c.compat_music21 = m21;
  return music::tokenize(f, c);
}
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& t : v) s += (s.empty() ? "" : " ") + t;
  return s;
}

}  // namespace

TEST(Pitch, Names) {
  EXPECT_EQ(music::pitch_name(60), "C4");
  EXPECT_EQ(music::pitch_name(63), "E-4");
  EXPECT_EQ(music::pitch_name(58), "B-3");
  EXPECT_EQ(music::pitch_name(21), "A0");
  // From octave 0 up the spelling is unambiguous (below it, music21 writes E natural in octave -1
  // and E flat in octave 1 both as "E-1").
  for (int p = 12; p < 128; ++p) EXPECT_EQ(music::parse_pitch_name(music::pitch_name(p)), p);
  EXPECT_FALSE(music::parse_pitch_name("H4"));
}

TEST(NormalOrder, ReadmeExamples) {
  EXPECT_EQ(music::chord_token({60, 64, 67}), "0.4.7");
  EXPECT_EQ(music::chord_token({57, 60, 64}), "9.0.4");
  EXPECT_EQ(music::chord_token({55, 59, 62, 65}), "11.2.5.7");
  EXPECT_EQ(music::chord_token({60, 64, 67, 70}), "4.7.10.0");
  EXPECT_EQ(music::chord_token({60, 64, 67, 71}), "11.0.4.7");
  EXPECT_EQ(music::chord_token({60, 61, 62}), "0.1.2");
  EXPECT_EQ(music::chord_token({50, 62}), "2");
  EXPECT_EQ(music::chord_token({60, 67}), "7.0");
  EXPECT_EQ(music::chord_token({53, 55, 60}), "5.7.0");
  EXPECT_EQ(music::chord_token({64, 68, 72}), "0.4.8");
  EXPECT_EQ(music::chord_token({60, 63, 66, 69}), "0.3.6.9");
  EXPECT_EQ(music::chord_token({60, 63, 64, 68}), "8.0.3.4");
}

TEST(Classic, GoldenConstructedFiles) {
  // Single notes, a chord, a chord with unequal durations (stays separate), a triplet.
  auto f = file_of({{0, 480, 60}, {480, 960, 64}, {480, 960, 67}, {960, 1920, 48}, {960, 1440, 55}, {1920, 2080, 62}, {2080, 2240, 63}});
  EXPECT_EQ(join(classic(f)), "C4 4.7 C3 G3 D4 E-4");
  EXPECT_EQ(join(classic(f, true)), "C4 4.7 C3 G3 D4 E-4");
  // Re-strike without note-off: music21 swallows the re-strike, arioso keeps both notes.
  midi::MidiFile g;
  g.division.ticks_per_quarter = 480;
  g.tracks.resize(1);
  g.tracks[0].events = {midi::make_channel(0, 0x90, 0, 60, 80), midi::make_channel(480, 0x90, 0, 60, 80),
                        midi::make_channel(960, 0x80, 0, 60, 0), midi::make_channel(960, 0x80, 0, 60, 0)};
  g = midi::read_midi(midi::write_midi(g));
  EXPECT_EQ(join(classic(g, true)), "C4");
  EXPECT_EQ(join(classic(g)), "C4 C4");
  // Drums: music21 5.x reads them as pitches; arioso's default leaves them out.
  auto d = file_of({{0, 480, 36, 80, 9}, {0, 480, 60}});
  EXPECT_EQ(join(classic(d, true)), "0");
  EXPECT_EQ(join(classic(d)), "C4");
  // Several program changes at one tick: music21 gives all but the last an empty span, and
  // parts[0] is the first one's instrument, so nothing is left; arioso's reading keeps the notes.
  auto p = file_of({{0, 480, 60}, {480, 960, 62}}, 480, {midi::make_channel(0, 0xC0, 0, 40), midi::make_channel(0, 0xC0, 0, 0)});
  EXPECT_EQ(join(classic(p, true)), "");
  EXPECT_EQ(join(classic(p)), "C4 D4");
}

TEST(Classic, DecodeIsTheTutorials) {
  auto s = music::classic_decode({"C4", "0.4.7", "E-2"});
  ASSERT_EQ(s.notes.size(), 5u);
  EXPECT_EQ(s.notes[0].start_tick, 0u);
  EXPECT_EQ(s.notes[1].start_tick, 240u);  // 0.5 quarter later
  EXPECT_EQ(s.notes[1].pitch, 60);         // chords in octave 4
  EXPECT_EQ(s.notes[3].pitch, 67);
  EXPECT_EQ(s.notes[4].pitch, 39);
  EXPECT_EQ(s.notes[4].end_tick - s.notes[4].start_tick, 480u);
  EXPECT_THROW_MSG(music::classic_decode({"C4", "X9"}), Error, "token 1: 'X9' is neither a pitch name nor a chord");
}

TEST(Classic, Music21OracleOnSeedCorpus) {
  std::string shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared not present";
  auto files = find_midi_files({shared + "/data/seed-midi"});
  std::size_t total = 0, n = 0;
  for (const auto& j : run_reference(shared + "/music21/m21v5_tokens.py", files)) {
    auto ours = classic(midi::read_midi_file(j["file"]), true);
    ASSERT_EQ(ours, j["tokens"].get<std::vector<std::string>>()) << j["file"];
    total += ours.size();
    ++n;
  }
  EXPECT_EQ(n, files.size());
  EXPECT_EQ(total, 57177u);
}

TEST(Remi, GoldenTokens) {
  // 4/4 at 120 BPM: C4 quarter on beat 1, a C-E-G triad (low to high) on beat 2, a triplet
  // eighth, a note across the bar line (kept whole: REMI has durations).
  auto f = file_of({{0, 480, 60, 100}, {480, 960, 67}, {480, 960, 60}, {480, 960, 64}, {960, 1120, 62}, {1760, 2400, 65}});
  EXPECT_EQ(join(remi(f)),
            "Bar TimeSig_4/4 Position_0 Tempo_120 Pitch_60 Velocity_103 Duration_12 "
            "Position_12 Pitch_60 Velocity_87 Duration_12 Pitch_64 Velocity_87 Duration_12 Pitch_67 Velocity_87 Duration_12 "
            "Position_24 Pitch_62 Velocity_87 Duration_4 Position_44 Pitch_65 Velocity_87 Duration_15");
  // Overlapping same-pitch notes at one onset: one note, the longest.
  auto g = file_of({{0, 480, 60}, {0, 960, 60}, {1920 * 2, 1920 * 2 + 240, 72}});
  EXPECT_EQ(join(remi(g)), "Bar TimeSig_4/4 Position_0 Tempo_120 Pitch_60 Velocity_87 Duration_24 Bar Bar Position_0 Pitch_72 Velocity_87 Duration_6");
  // 3/4 and a tempo change.
  auto h = file_of({{0, 480, 60}, {1440, 1920, 62}}, 480, {midi::make_time_signature(0, 3, 4), midi::make_tempo(1440, 1000000)});
  EXPECT_EQ(join(remi(h)), "Bar TimeSig_3/4 Position_0 Tempo_120 Pitch_60 Velocity_87 Duration_12 Bar Position_0 Tempo_60 Pitch_62 Velocity_87 Duration_12");
}

// A random score; with `parts`, notes of up to 20 programs on random channels and tracks, some
// of them drums (more programs than a piece keeps, drum keys outside the percussion map).
static Score random_score(std::mt19937& rng, bool parts = false) {
  Score s;
  const int programs = std::uniform_int_distribution<int>(1, 20)(rng);
  s.ticks_per_quarter = std::uniform_int_distribution<int>(24, 960)(rng);
  int n = std::uniform_int_distribution<int>(0, 60)(rng);
  std::uint64_t horizon = static_cast<std::uint64_t>(s.ticks_per_quarter) * 40;
  for (int i = 0; i < n; ++i) {
    music::Note x;
    x.start_tick = std::uniform_int_distribution<std::uint64_t>(0, horizon)(rng);
    x.end_tick = x.start_tick + std::uniform_int_distribution<std::uint64_t>(0, static_cast<std::uint64_t>(s.ticks_per_quarter) * 20)(rng);
    x.pitch = std::uniform_int_distribution<int>(10, 120)(rng);
    x.velocity = std::uniform_int_distribution<int>(1, 127)(rng);
    if (parts) {
      x.program = (std::uniform_int_distribution<int>(0, programs - 1)(rng) * 37) % 128;
      x.channel = std::uniform_int_distribution<int>(0, 15)(rng);
      x.track = std::uniform_int_distribution<int>(0, 3)(rng);
    }
    s.notes.push_back(x);
  }
  int tempos = std::uniform_int_distribution<int>(0, 4)(rng);
  for (int i = 0; i < tempos; ++i) s.tempos.push_back({std::uniform_int_distribution<std::uint64_t>(0, horizon)(rng), std::uniform_int_distribution<std::uint32_t>(200000, 1500000)(rng)});
  int sigs = std::uniform_int_distribution<int>(0, 3)(rng);
  static const int kDen[] = {1, 2, 4, 8, 16};
  for (int i = 0; i < sigs; ++i) s.time_signatures.push_back({std::uniform_int_distribution<std::uint64_t>(0, horizon)(rng), std::uniform_int_distribution<int>(1, 13)(rng), kDen[std::uniform_int_distribution<int>(0, 4)(rng)]});
  return s;
}

static void expect_same_music(const Score& a, const Score& b, const std::string& what) {
  ASSERT_EQ(a.notes.size(), b.notes.size()) << what;
  for (std::size_t i = 0; i < a.notes.size(); ++i) {
    ASSERT_EQ(a.notes[i].start_tick, b.notes[i].start_tick) << what << " note " << i;
    ASSERT_EQ(a.notes[i].end_tick, b.notes[i].end_tick) << what << " note " << i;
    ASSERT_EQ(a.notes[i].pitch, b.notes[i].pitch) << what << " note " << i;
    ASSERT_EQ(a.notes[i].velocity, b.notes[i].velocity) << what << " note " << i;
    ASSERT_EQ(a.notes[i].channel, b.notes[i].channel) << what << " note " << i;
    ASSERT_EQ(a.notes[i].program, b.notes[i].program) << what << " note " << i;
  }
  ASSERT_EQ(a.tempos.size(), b.tempos.size()) << what;
  for (std::size_t i = 0; i < a.tempos.size(); ++i) {
    ASSERT_EQ(a.tempos[i].tick, b.tempos[i].tick) << what;
    ASSERT_EQ(a.tempos[i].us_per_quarter, b.tempos[i].us_per_quarter) << what;
  }
  ASSERT_EQ(a.time_signatures.size(), b.time_signatures.size()) << what;
  for (std::size_t i = 0; i < a.time_signatures.size(); ++i) {
    ASSERT_EQ(a.time_signatures[i].tick, b.time_signatures[i].tick) << what;
    ASSERT_EQ(a.time_signatures[i].numerator, b.time_signatures[i].numerator) << what;
    ASSERT_EQ(a.time_signatures[i].denominator, b.time_signatures[i].denominator) << what;
  }
}

// Every combination of REMI's options: compact, keys, instruments.
const music::RemiOptions kRemiOptions[] = {{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false},
                                           {false, false, true},  {true, false, true},  {false, true, true},  {true, true, true}};

static void check_bijection(const Score& s, const std::string& what, const music::RemiOptions& opt = {}) {
  auto tokens = music::remi_encode(s, opt);
  Score decoded = music::remi_decode(tokens, opt);
  expect_same_music(decoded, music::remi_quantize(s, opt), what);
  // Exactly one encoding: re-encoding the decoded music gives the same tokens.
  ASSERT_EQ(music::remi_encode(decoded, opt), tokens) << what;
  // And through MIDI bytes: tokens -> file -> tokens is the identity.
  auto bytes = midi::write_midi(music::score_to_midi(decoded));
  Score back = music::score_from_midi(midi::read_midi(bytes));
  ASSERT_EQ(music::remi_encode(back, opt), tokens) << what << " (through MIDI bytes)";
  // The grammar accepts the encoding, and sampling under it can produce exactly it.
  music::RemiGrammar g(opt);
  const music::Vocab v = music::Vocab::for_remi(music::tokenizer_named("remi").remi);
  for (std::size_t i = 0; i < tokens.size(); ++i) ASSERT_TRUE(g.feed(v.id(tokens[i]))) << what << " token " << i << " " << tokens[i];
}

static void check_bijection_all(const Score& s, const std::string& what) {
  for (const auto& opt : kRemiOptions) {
    check_bijection(s, what + fmt::format(" (compact {}, keys {}, instruments {})", opt.compact, opt.keys, opt.instruments), opt);
  }
}

TEST(Remi, BijectionOnRandomScores) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 500; ++i) check_bijection_all(random_score(rng), "random score " + std::to_string(i));
  for (int i = 0; i < 500; ++i) check_bijection_all(random_score(rng, true), "random score with parts " + std::to_string(i));
}

TEST(Remi, BijectionOnRealFiles) {
  std::vector<std::string> inputs = real_midi_inputs();
  if (inputs.empty()) GTEST_SKIP() << "no default corpus on this machine";
  for (const auto& path : find_midi_files(inputs)) {
    Score s = music::score_from_midi(midi::read_midi_file(path));
    check_bijection_all(music::select_parts(s, music::parse_part_selection("pitched")), path);
    check_bijection(s, path + " (all parts)", music::tokenizer_named("remi").remi);
  }
}

TEST(Remi, InstrumentsAndDrums) {
  // Bass (program 33) and piano (0) on one onset, a kick and a closed hi-hat beside them, then
  // the piano alone; the next bar states its program again.
  Score s;
  s.notes.push_back({0, 480, 40, 90, 1, 33, 0});
  s.notes.push_back({0, 480, 64, 90, 0, 0, 0});
  s.notes.push_back({0, 60, 36, 100, 9, 0, 1});
  s.notes.push_back({0, 60, 42, 70, 9, 0, 1});
  s.notes.push_back({480, 960, 67, 90, 0, 0, 0});
  s.notes.push_back({1920, 2400, 43, 90, 1, 33, 0});
  s.notes.push_back({1920, 1980, 42, 70, 9, 0, 1});
  const music::RemiOptions opt = music::tokenizer_named("remi").remi;
  EXPECT_EQ(join(music::remi_encode(s, {true, false, true})),
            "Bar TimeSig_4/4 Program_0 Program_33 Program_Drums Position_0 Tempo_120 Program_0 Pitch_64 Velocity_95 Duration_12 Program_33 Pitch_40 Velocity_95 Duration_12 "
            "Drum_36 Velocity_103 Drum_42 Velocity_71 Position_12 Program_0 Pitch_67 "
            "Bar Position_0 Program_33 Pitch_43 Drum_42");
  // Decoded: drums on channel 10 (index 9), the pitched parts on channels in order of first
  // note, a hit a quarter note long or up to the same drum's next hit.
  Score d = music::remi_decode(music::remi_encode(s, opt), opt);
  ASSERT_EQ(d.notes.size(), 7u);
  EXPECT_EQ(d.notes[0].program, 0);
  EXPECT_EQ(d.notes[0].channel, 0);
  EXPECT_EQ(d.notes[1].program, 33);
  EXPECT_EQ(d.notes[1].channel, 1);
  EXPECT_TRUE(d.notes[2].drum());
  EXPECT_EQ(d.notes[2].end_tick, 480u);
  // Order within an onset: a lower program after a higher one, or a pitched note after a drum, is not an encoding.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_0", "Program_33", "Position_0", "Tempo_120", "Program_33", "Pitch_40",
                                       "Velocity_95", "Duration_12", "Program_0"}, {true, false, true}),
                   Error, "token 10: 'Program_0' cannot follow 'Duration_12'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_0", "Program_Drums", "Position_0", "Tempo_120", "Drum_36", "Velocity_95",
                                       "Program_0"}, {true, false, true}),
                   Error, "token 8: 'Program_0' cannot follow 'Velocity_95'");
  // A bar's first pitched note names its program; a drum has no duration.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_0", "Position_0", "Tempo_120", "Pitch_60"}, {true, false, true}), Error,
                   "token 5: 'Pitch_60' cannot follow 'Tempo_120'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_Drums", "Position_0", "Tempo_120", "Drum_36", "Velocity_95", "Duration_12"},
                                      {true, false, true}),
                   Error, "token 7: 'Duration_12' cannot follow 'Velocity_95'");
  // The header names the piece's instruments, ascending, before its first position; nothing else plays.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Position_0"}, {true, false, true}), Error,
                   "token 2: 'Position_0' cannot follow 'TimeSig_4/4'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_33", "Program_0"}, {true, false, true}), Error,
                   "token 3: 'Program_0' cannot follow 'Program_33'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_0", "Position_0", "Tempo_120", "Program_33"}, {true, false, true}), Error,
                   "token 5: 'Program_33' cannot follow 'Tempo_120'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Program_0", "Position_0", "Tempo_120", "Drum_36"}, {true, false, true}), Error,
                   "token 5: 'Drum_36' cannot follow 'Tempo_120'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Drum_36"}, {true, false, false}), Error,
                   "token 4: 'Drum_36' is not a REMI token (this corpus has no instruments)");
  // Drums stay where they are when the music is transposed; the vocabulary grows at its end.
  const music::Vocab v = music::Vocab::for_remi(opt);
  EXPECT_EQ(v.size(), 325 + 129 + 61 + 3 + 32);  // the three infilling markers (music/infill.h), Repeat_1..32
  music::Transposer t(v.tokens(), music::tokenizer_named("remi"));
  EXPECT_EQ(t.shift(v.id("Drum_36"), 3), v.id("Drum_36"));
  EXPECT_EQ(t.shift(v.id("Program_33"), 3), v.id("Program_33"));
  const std::int64_t drum[] = {v.id("Drum_87")};
  EXPECT_TRUE(t.fits(drum, 1, 12));
  // The key of a piece with drums is the key of its pitched notes.
  check_bijection(s, "instruments and drums", opt);
}

TEST(Remi, PartsAcrossTracksAndChannels) {
  // One channel, two programs (a program change mid-track); one program spread over two
  // tracks and two channels: a part is its program, wherever its notes are.
  midi::MidiFile f;
  f.division.ticks_per_quarter = 96;
  f.tracks.resize(2);
  f.tracks[0].events = {midi::make_channel(0, 0xC0, 0, 0),     midi::make_channel(0, 0x90, 0, 60, 80),  midi::make_channel(96, 0x80, 0, 60, 0),
                        midi::make_channel(96, 0xC0, 0, 40),   midi::make_channel(96, 0x90, 0, 72, 80), midi::make_channel(192, 0x80, 0, 72, 0),
                        midi::make_channel(192, 0xC0, 0, 0),   midi::make_channel(192, 0x90, 0, 62, 80), midi::make_channel(288, 0x80, 0, 62, 0)};
  f.tracks[1].events = {midi::make_channel(0, 0xC3, 3, 0), midi::make_channel(0, 0x93, 3, 48, 80), midi::make_channel(0, 0x99, 9, 38, 80),
                        midi::make_channel(10, 0x89, 9, 38, 0), midi::make_channel(96, 0x83, 3, 48, 0)};
  f = midi::read_midi(midi::write_midi(f));
  const music::TokenizerConfig cfg = music::tokenizer_named("remi");
  EXPECT_EQ(cfg.parts, "all");
  auto tokens = music::tokenize(f, cfg);
  Score d = music::detokenize(tokens, cfg);
  ASSERT_EQ(d.notes.size(), 5u);
  std::map<int, int> notes_of;  // program (-1: drums) -> notes
  for (const auto& n : d.notes) ++notes_of[n.drum() ? -1 : n.program];
  EXPECT_EQ(notes_of, (std::map<int, int>{{-1, 1}, {0, 3}, {40, 1}}));
  // Written back: one track per instrument with its channel and program, and read back the same.
  auto back = midi::read_midi(midi::write_midi(music::score_to_midi(d)));
  EXPECT_EQ(back.tracks.size(), 4u);  // the meta track, piano, program 40, drums
  EXPECT_EQ(music::tokenize(back, cfg), tokens);
}

TEST(Remi, ARestruckPitchEndsItsEarlierNote) {
  Score s;
  s.notes.push_back({0, 960, 60, 90, 0, 0});    // a half note...
  s.notes.push_back({240, 480, 60, 90, 0, 0});  // ...struck again an eighth later
  Score q = music::remi_quantize(s);
  ASSERT_EQ(q.notes.size(), 2u);
  EXPECT_EQ(q.notes[0].end_tick, 240u);
  check_bijection_all(s, "re-struck pitch");
}

TEST(Remi, CompactNotesAndKeys) {
  // A C major chord of three equal quarter notes, then one louder, longer E.
  Score s;
  for (int p : {60, 64, 67}) s.notes.push_back({0, 480, p, 90, 0, 0, 0});
  s.notes.push_back({480, 1440, 64, 110, 0, 0, 0});
  const std::vector<std::string> plain = {"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12",
                                          "Pitch_64", "Velocity_95", "Duration_12", "Pitch_67", "Velocity_95", "Duration_12",
                                          "Position_12", "Pitch_64", "Velocity_111", "Duration_24"};
  EXPECT_EQ(music::remi_encode(s), plain);
  EXPECT_EQ(music::remi_encode(s, {true, false}),
            (std::vector<std::string>{"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12", "Pitch_64",
                                      "Pitch_67", "Position_12", "Pitch_64", "Velocity_111", "Duration_24"}));
  EXPECT_EQ(music::remi_encode(s, {true, true})[2], "Key_" + music::estimate_key(music::remi_quantize(s)).name());
  // Compact: restating an unchanged velocity or duration is not an encoding.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Velocity_95", "Duration_12", "Pitch_64",
                                       "Velocity_95"}, {true, false}),
                   Error, "token 8: 'Velocity_95' cannot follow 'Pitch_64'");
  // A compact piece's first note states both.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Position_0", "Tempo_120", "Pitch_60", "Duration_12"}, {true, false}), Error,
                   "token 5: 'Duration_12' cannot follow 'Pitch_60'");
  // With keys every bar states one, right after its Bar (and TimeSig); without, Key tokens are unknown.
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Position_0"}, {false, true}), Error, "token 2: 'Position_0' cannot follow 'TimeSig_4/4'");
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "TimeSig_4/4", "Key_C:major"}), Error, "token 2: 'Key_C:major' is not a REMI token (this corpus has no keys)");
  Score k = music::remi_decode({"Bar", "TimeSig_4/4", "Key_A:minor", "Position_0", "Tempo_120", "Pitch_69", "Velocity_95", "Duration_12", "Bar",
                                "Key_D:major", "Position_0", "Pitch_62", "Velocity_95", "Duration_12"}, {false, true});
  ASSERT_EQ(k.key_signatures.size(), 2u);
  EXPECT_EQ(k.key_signatures[0].sharps, 0);   // A minor: no sharps
  EXPECT_TRUE(k.key_signatures[0].minor);
  EXPECT_EQ(k.key_signatures[1].sharps, 2);   // D major
  EXPECT_EQ(k.key_signatures[1].tick, 1920u);
  EXPECT_EQ(music::remi_vocabulary().size(), 301u);
  EXPECT_EQ(music::remi_vocabulary({true, true}).size(), 325u);
  // Transposition moves Key tokens' tonics with the pitches.
  const music::Vocab v = music::Vocab::for_remi({true, true});
  music::TokenizerConfig keyed = music::tokenizer_named("remi");
  music::Transposer t(v.tokens(), keyed);
  ASSERT_TRUE(t.supported());
  EXPECT_EQ(v.token(static_cast<int>(t.shift(v.id("Key_A:minor"), 5))), "Key_D:minor");
  EXPECT_EQ(v.token(static_cast<int>(t.shift(v.id("Key_B:major"), 2))), "Key_C#:major");
  EXPECT_EQ(v.token(static_cast<int>(t.shift(v.id("Key_C:major"), -1))), "Key_B:major");
  EXPECT_EQ(v.token(static_cast<int>(t.shift(v.id("Pitch_60"), -1))), "Pitch_59");
  EXPECT_EQ(t.shift(v.id("Duration_12"), 3), v.id("Duration_12"));
  const std::int64_t high[] = {v.id("Pitch_100")};
  EXPECT_TRUE(t.fits(high, 1, 8));
  EXPECT_FALSE(t.fits(high, 1, 9));
}

TEST(Remi, VocabularyAndGrammar) {
  const auto& v = music::remi_vocabulary();
  EXPECT_EQ(v.size(), 301u);
  EXPECT_EQ(v[0], "Bar");
  EXPECT_EQ(music::remi_durations().back(), 192);  // four bars of 4/4, at 12 per quarter
  EXPECT_EQ(music::remi_durations().size(), 40u);
  music::Vocab vocab = music::Vocab::for_remi();
  music::RemiGrammar g;
  EXPECT_FALSE(g.feed(vocab.id("Pitch_60")));
  EXPECT_TRUE(g.feed(vocab.id("Bar")));
  EXPECT_FALSE(g.feed(vocab.id("Position_0")));  // the first bar states its time signature
  EXPECT_TRUE(g.feed(vocab.id("TimeSig_3/4")));
  EXPECT_FALSE(g.feed(vocab.id("Position_3")));  // and the tempo at position 0
  EXPECT_TRUE(g.feed(vocab.id("Position_0")));
  EXPECT_TRUE(g.feed(vocab.id("Tempo_120")));
  EXPECT_TRUE(g.feed(vocab.id("Pitch_60")));
  EXPECT_FALSE(g.feed(vocab.id("Duration_12")));  // a velocity first
  EXPECT_TRUE(g.feed(vocab.id("Velocity_87")));
  EXPECT_TRUE(g.feed(vocab.id("Duration_12")));
  EXPECT_FALSE(g.feed(vocab.id("Pitch_60")));  // low to high within an onset
  EXPECT_FALSE(g.feed(vocab.id("Position_36")));  // 3/4 has 36 positions
  EXPECT_TRUE(g.feed(vocab.id("Position_35")));
  EXPECT_THROW_MSG(music::remi_decode({"Bar", "Pitch_60"}), Error, "token 1: 'Pitch_60' cannot follow 'Bar'");
}

TEST(Remi, Transposition) {
  music::Vocab v = music::Vocab::for_remi();
  auto f = file_of({{0, 480, 60}, {480, 960, 100}});
  std::vector<int> ids;
  for (const auto& t : remi(f)) ids.push_back(v.id(t));
  auto up = music::remi_transpose(ids, 8);
  ASSERT_TRUE(up);
  std::vector<std::string> tokens;
  for (int id : *up) tokens.push_back(v.token(id));
  Score s = music::remi_decode(tokens);
  EXPECT_EQ(s.notes[0].pitch, 68);
  EXPECT_EQ(s.notes[1].pitch, 108);
  EXPECT_FALSE(music::remi_transpose(ids, 9));    // 109 is above the piano
  EXPECT_FALSE(music::remi_transpose(ids, -40));  // 20 is below it
}

TEST(Parts, Selection) {
  midi::MidiFile f;
  f.division.ticks_per_quarter = 96;
  f.tracks.resize(2);
  f.tracks[0].events = {midi::make_channel(0, 0xC0, 0, 40), midi::make_channel(0, 0x90, 0, 60, 80), midi::make_channel(96, 0x80, 0, 60, 0)};
  f.tracks[1].events = {midi::make_channel(0, 0xC0, 1, 0), midi::make_channel(0, 0x90, 1, 48, 80), midi::make_channel(0, 0x99, 9, 36, 80),
                        midi::make_channel(96, 0x80, 1, 48, 0), midi::make_channel(96, 0x89, 9, 36, 0)};
  f = midi::read_midi(midi::write_midi(f));
  Score s = music::score_from_midi(f);
  EXPECT_EQ(music::parts(s).size(), 3u);
  auto count = [&](const std::string& sel) { return music::select_parts(s, music::parse_part_selection(sel)).notes.size(); };
  EXPECT_EQ(count("pitched"), 2u);
  EXPECT_EQ(count("first"), 1u);
  EXPECT_EQ(count("programs=0-7"), 1u);
  EXPECT_EQ(count("tracks=1"), 1u);
  EXPECT_EQ(count("all"), 3u);
  EXPECT_THROW_MSG(music::parse_part_selection("drums"), ConfigError,
                   "--parts: unknown selection 'drums' (use all, pitched, first, programs=0-7,40 or tracks=1,3)");
  EXPECT_THROW_MSG(music::parse_part_selection("programs=5-200"), ConfigError, "--parts: program range '5-200' outside 0-127");
}

// A small folder's split: by content (the same files under other names, in another order, land
// in the same splits), and never more than twice the share asked held out (at least one).
TEST(Corpus, SmallFoldersKeepTheirMusicForTraining) {
  // Six one-bar tunes, three that a split by hash at 0.1 holds out and three it trains on.
  using Bytes = std::vector<std::uint8_t>;
  std::vector<Bytes> held, trained;
  for (int p = 40; p < 100 && (held.size() < 3 || trained.size() < 3); ++p) {
    auto bytes = midi::write_midi(file_of({{0, 480, p}, {480, 960, p + 2}}));
    const bool valid = data::split_for_hash(fnv1a64(bytes.data(), bytes.size()), 0.1, 0) == data::Split::kValid;
    auto& into = valid ? held : trained;
    if (into.size() < 3) into.push_back(bytes);
  }
  ASSERT_EQ(held.size(), 3u);
  ASSERT_EQ(trained.size(), 3u);
  std::vector<Bytes> all = held;
  all.insert(all.end(), trained.begin(), trained.end());
  auto splits = [&](const std::string& name, bool reversed) {
    std::string dir = temp_dir(name);
    for (std::size_t i = 0; i < all.size(); ++i) {
      write_file_atomic(fmt::format("{}/{}.mid", dir, reversed ? 9 - i : i), all[i]);
    }
    auto r = data::prepare_corpus({dir}, data::PrepareOptions{});
    std::map<std::uint64_t, data::Split> by_content;
    for (const auto& p : r.corpus.pieces) by_content[p.content_hash] = p.split;
    EXPECT_EQ(r.corpus.piece_count(data::Split::kValid), 1u);  // round(2 x 0.1 x 6) = 1, not 3
    std::filesystem::remove_all(dir);
    return by_content;
  };
  const auto a = splits("split-a", false), b = splits("split-b", true);
  EXPECT_EQ(a, b);
  // The one held out is the smallest hash of the three the hash split chose.
  std::uint64_t smallest = UINT64_MAX;
  for (const auto& bytes : held) smallest = std::min(smallest, fnv1a64(bytes.data(), bytes.size()));
  EXPECT_EQ(a.at(smallest), data::Split::kValid);
}

TEST(Corpus, RoundTripAndCorruption) {
  std::string dir = temp_dir("corpus");
  // A folder with two good files, a duplicate, a broken file and an empty one.
  auto good1 = midi::write_midi(file_of({{0, 480, 60}, {480, 960, 62}}));
  auto good2 = midi::write_midi(file_of({{0, 240, 67}, {240, 480, 69}, {480, 960, 71}}));
  write_file_atomic(dir + "/a.mid", good1);
  write_file_atomic(dir + "/B.MID", good2);
  std::filesystem::create_directories(dir + "/sub");
  write_file_atomic(dir + "/sub/copy.midi", good1);
  write_file_atomic(dir + "/broken.mid", std::string("MThd\0\0\0\6\0\1", 10));
  write_file_atomic(dir + "/notes.txt", std::string("not midi"));
  data::PrepareOptions opt;
  auto r = data::prepare_corpus({dir}, opt);
  EXPECT_EQ(r.files_found, 4u);
  EXPECT_EQ(r.files_read, 3u);
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].file, dir + "/broken.mid");
  EXPECT_EQ(r.skipped[0].error, dir + "/broken.mid:0x0: truncated header: expected 14 bytes, 10 available");
  EXPECT_EQ(r.skipped[1].file, dir + "/sub/copy.midi");
  EXPECT_EQ(r.skipped[1].error, "same content as a file already in the corpus");
  ASSERT_EQ(r.corpus.pieces.size(), 2u);
  EXPECT_EQ(r.corpus.piece_count(data::Split::kValid), 1u);  // a small folder still gets a validation piece
  std::string path = dir + "/c.corpus";
  data::write_corpus(path, r.corpus);
  auto c = data::read_corpus(path);
  EXPECT_EQ(c.fingerprint(), r.corpus.fingerprint());
  EXPECT_EQ(c.pieces[0].tokens, r.corpus.pieces[0].tokens);
  EXPECT_EQ(c.tokenizer.name, "remi");
  // Corruption and versions.
  auto bytes = read_file_bytes(path);
  bytes[bytes.size() / 2] ^= 0x40;
  write_file_atomic(path + "2", bytes);
  EXPECT_THROW_MSG(data::read_corpus(path + "2"), FormatError, path + "2: corpus file is corrupt (checksum mismatch); re-run 'arioso prepare'");
  bytes = read_file_bytes(path);
  bytes[8] = 9;
  write_file_atomic(path + "3", bytes);
  EXPECT_THROW_MSG(data::read_corpus(path + "3"), FormatError, path + "3: corpus version 9, expected 1 (re-run 'arioso prepare')");
  write_file_atomic(path + "4", std::string("hello"));
  EXPECT_THROW_MSG(data::read_corpus(path + "4"), FormatError, path + "4: not an arioso corpus (no ARIOSOCP magic); make one with 'arioso prepare'");
  // Nothing usable: an error that says why.
  EXPECT_THROW(data::prepare_corpus({dir + "/broken.mid"}, opt), Error);
  std::filesystem::remove_all(dir);
}

// --- Damaged files must not poison a corpus (data/plausibility.h).

TEST(Prepare, AnOpenedSilenceIsCutAndListed) {
  const std::string dir = temp_dir("damaged-silence");
  fs::create_directories(dir + "/midi");
  for (int i = 0; i < 2; ++i) write_file_atomic(dir + "/midi/good" + std::to_string(i) + ".mid", test::walking_tune_midi(i + 1, 64));
  // The third: the same tune with its second half two hours later (a delta time gone wrong).
  music::Score s = test::walking_tune(5, 64);
  for (std::size_t i = 32; i < s.notes.size(); ++i) {
    s.notes[i].start_tick += 2ull * 3600 * 2 * 480;  // 2 h at 120 BPM
    s.notes[i].end_tick += 2ull * 3600 * 2 * 480;
  }
  auto bytes = midi::write_midi(music::score_to_midi(s));
  write_file_atomic(dir + "/midi/damaged.mid", std::string(bytes.begin(), bytes.end()));
  const std::size_t offset = midi::read_midi(bytes).tracks[1].events[3 + 2 * 32 - 1].offset;  // name, program, 32 notes on/off, then the jump
  auto r = data::prepare_corpus({dir + "/midi"}, {});
  ASSERT_EQ(r.repairs.size(), 1u);
  EXPECT_EQ(r.repairs[0].file, dir + "/midi/damaged.mid");
  EXPECT_EQ(r.repairs[0].error, fmt::format("{}/midi/damaged.mid:0x{:x}: track 1: cut a silence of 7200 s (longer than the rest of the piece, 16 s; "
                                            "a damaged delta time?)", dir, offset));
  EXPECT_EQ(r.corpus.pieces.size(), 3u);
  EXPECT_LT(r.minutes, 1.0);  // three tunes of 16 s and a 2 s rest, not two hours
  // The music after the silence is kept, one bar after the music before it.
  for (const auto& p : r.corpus.pieces) {
    if (p.source.find("damaged.mid") == std::string::npos) continue;
    std::vector<std::string> tokens;
    for (auto t : p.tokens) tokens.push_back(r.corpus.vocab.token(t));
    EXPECT_EQ(music::detokenize(tokens, r.corpus.tokenizer).notes.size(), 64u);
    EXPECT_EQ(std::count(tokens.begin(), tokens.end(), "Bar"), 4 + 1 + 4);
  }
}

TEST(Prepare, HopelessFilesAreSkippedWithTheirOffset) {
  midi::MidiFile f = midi::read_midi(midi::write_midi(music::score_to_midi(test::walking_tune(1, 8))));
  auto& tempo = f.tracks[0].events[0];
  ASSERT_EQ(tempo.meta_type, midi::kMetaTempo);
  tempo.payload = {0xFF, 0xFF, 0xFF};  // 3.6 BPM
  tempo.offset = 0x16;
  auto v = data::make_plausible(f, 0, "x.mid");
  EXPECT_TRUE(v.skip);
  EXPECT_EQ(v.reason, "x.mid:0x16: track 0: tempo 3.58 BPM is outside any musical range (10-1000)");
  midi::MidiFile g = midi::read_midi(midi::write_midi(music::score_to_midi(test::walking_tune(1, 8))));
  std::size_t events = 0;
  for (const auto& t : g.tracks) events += t.events.size();
  const std::size_t recoveries = (events + 1) / 2;
  auto w = data::make_plausible(g, recoveries, "y.mid");
  EXPECT_TRUE(w.skip);
  EXPECT_EQ(w.reason, fmt::format("y.mid: {} recoveries against {} clean events: too damaged to learn from", recoveries, events - recoveries));
  EXPECT_FALSE(data::make_plausible(g, 1, "y.mid").skip);
}

TEST(Prepare, DamagedCopiesOfRealFilesDoNotPoisonTheCorpus) {
  const std::string seed = shared_dir().empty() ? "" : shared_dir() + "/data/seed-midi";
  if (seed.empty() || !fs::exists(seed)) GTEST_SKIP() << "no ../shared/data/seed-midi here";
  auto files = find_midi_files({seed});
  ASSERT_GE(files.size(), 12u);
  const std::string dir = temp_dir("damaged-real");
  fs::create_directories(dir + "/clean");
  fs::create_directories(dir + "/damaged");
  std::mt19937 rng(40);
  for (std::size_t i = 0; i < 12; ++i) {
    auto bytes = read_file_bytes(files[i]);
    write_file_atomic(dir + "/clean/" + std::to_string(i) + ".mid", std::string(bytes.begin(), bytes.end()));
    std::size_t at = 22 + rng() % (bytes.size() - 62);  // past the header, 40 random bytes
    for (std::size_t k = 0; k < 40; ++k) bytes[at + k] = static_cast<std::uint8_t>(rng());
    write_file_atomic(dir + "/damaged/" + std::to_string(i) + ".mid", std::string(bytes.begin(), bytes.end()));
  }
  auto clean = data::prepare_corpus({dir + "/clean"}, {});
  data::PrepareResult damaged;
  try {
    damaged = data::prepare_corpus({dir + "/damaged"}, {});
  } catch (const Error&) {
    GTEST_FAIL() << "every damaged file was refused";
  }
  // About as much music as the clean files hold (never hours more: a damaged tempo byte that
  // stays in a musical range may still slow a piece down), and bar lines no larger a share of
  // the tokens than in the clean corpus, with a margin.
  EXPECT_LE(damaged.minutes, clean.minutes * 1.25 + 1);
  auto bar_share = [](const data::PrepareResult& r) {
    std::size_t bars = 0, all = 0;
    const int bar = r.corpus.vocab.id("Bar");
    for (const auto& p : r.corpus.pieces) {
      bars += static_cast<std::size_t>(std::count(p.tokens.begin(), p.tokens.end(), bar));
      all += p.tokens.size();
    }
    return static_cast<double>(bars) / static_cast<double>(all);
  };
  EXPECT_LT(bar_share(damaged), bar_share(clean) * 1.5);
  EXPECT_EQ(damaged.corpus.pieces.size() + damaged.skipped.size(), 12u);
}

TEST(Instruments, GeneralMidiNamesAndTheInstrumentsOption) {
  EXPECT_EQ(music::program_name(0), "Acoustic Grand Piano");
  EXPECT_EQ(music::program_name(33), "Electric Bass (finger)");
  EXPECT_EQ(music::program_name(127), "Gunshot");
  EXPECT_EQ(music::family_name(4), "Bass");
  // The percussion map (General MIDI level 1 keys 35-81, level 2 27-34 and 82-87).
  EXPECT_EQ(music::percussion_name(35), "Acoustic Bass Drum");
  EXPECT_EQ(music::percussion_name(36), "Bass Drum 1");
  EXPECT_EQ(music::percussion_name(38), "Acoustic Snare");
  EXPECT_EQ(music::percussion_name(42), "Closed Hi-Hat");
  EXPECT_EQ(music::percussion_name(49), "Crash Cymbal 1");
  EXPECT_EQ(music::percussion_name(81), "Open Triangle");
  EXPECT_EQ(music::percussion_name(27), "High Q");
  EXPECT_EQ(music::percussion_name(87), "Open Surdo");
  EXPECT_EQ(music::percussion_name(88), "");
  // --instruments: families (one group each), program names, numbers, strings, drums.
  auto set = music::parse_instruments("piano, Electric Bass (finger),40,Strings,DRUMS");
  ASSERT_EQ(set.groups.size(), 5u);
  EXPECT_EQ(set.groups[0], (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(set.groups[1], (std::vector<int>{33}));
  EXPECT_EQ(set.groups[2], (std::vector<int>{40}));
  EXPECT_EQ(set.groups[3].front(), 40);
  EXPECT_EQ(set.groups[3].back(), 51);
  EXPECT_EQ(set.groups[4], (std::vector<int>{128}));
  EXPECT_TRUE(set.drums);
  EXPECT_TRUE(set.programs[7] && set.programs[33] && set.programs[48] && !set.programs[32] && !set.programs[52]);
  EXPECT_THROW_MSG(music::parse_instruments("kazoo"), ConfigError,
                   "--instruments: 'kazoo' is not a General MIDI instrument (give a program number 0-127, a program name, drums, strings, or a "
                   "family: piano, chromatic percussion, organ, guitar, bass, strings, ensemble, brass, reed, pipe, synth lead, synth pad, "
                   "synth effects, ethnic, percussive, sound effects)");
  EXPECT_THROW_MSG(music::parse_instruments("200"), ConfigError, "--instruments: program '200' outside 0-127");
  EXPECT_THROW_MSG(music::parse_instruments(" , "), ConfigError, "--instruments: no instrument given");
}
