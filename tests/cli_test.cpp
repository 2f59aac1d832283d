// End to end through the `arioso` binary: `demo` on a tiny corpus built here with a tiny
// budget writes every promised file, valid (MIDI read back by mido with the same notes, WAV
// length, PNG size and not blank), and a second run reuses the trained model; `info` keeps
// going past a broken file and exits 1.
#include <cairo.h>

#include <filesystem>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "midi/midi_file.h"
#include "midi/notes.h"
#include "music/instruments.h"
#include "music/score.h"
#include "test_util.h"
#include "tunes.h"

using namespace arioso;
using namespace arioso::test;
namespace fs = std::filesystem;

namespace {

const std::string kArioso = ARIOSO_BINARY_DIR "/app/arioso";

int run(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " > /tmp/arioso-cli-out.txt 2>&1";
  int rc = std::system(full.c_str());
  if (out) {
    auto b = read_file_bytes("/tmp/arioso-cli-out.txt");
    out->assign(b.begin(), b.end());
  }
  return WEXITSTATUS(rc);
}

void write_tiny_corpus(const std::string& dir) {
  fs::create_directories(dir);
  for (int p = 0; p < 4; ++p) write_file_atomic(dir + "/tune" + std::to_string(p) + ".mid", walking_tune_midi(p + 3, 64, true));
}

}  // namespace

TEST(Cli, DemoEndToEnd) {
  std::string dir = temp_dir("demo");
  write_tiny_corpus(dir + "/midi");
  std::string out_dir = dir + "/out";
  std::string cmd = kArioso + " demo --midi " + dir + "/midi -o " + out_dir + " --minutes 0.3 --preset tiny --pieces 2 --seconds 6";
  std::string log;
  ASSERT_EQ(run(cmd, &log), 0) << log;
  for (const char* f : {"piece-1.mid", "piece-1.wav", "piece-1.png", "piece-2.mid", "piece-2.wav", "piece-2.png", "loss.png",
                        "analysis.json", "analysis.png", "run/best.pt", "corpus.arioso"}) {
    EXPECT_TRUE(fs::exists(out_dir + "/" + f)) << f << "\n" << log;
  }
  // MIDI: mido reads it, with the notes arioso reads.
  std::string mid = out_dir + "/piece-1.mid";
  auto notes = midi::extract_notes(midi::read_midi_file(mid, true));
  ASSERT_FALSE(notes.empty());
  if (have_mido()) {
    auto j = nlohmann::json::parse(run_capture("/usr/bin/python3 " ARIOSO_SOURCE_DIR "/tests/reference/mido_notes.py " + mid));
    ASSERT_FALSE(j.contains("error")) << j.dump();
    EXPECT_EQ(j["notes"].size(), notes.size());
    auto len = std::stod(run_capture("/usr/bin/python3 -c \"import mido; print(mido.MidiFile('" + mid + "').length)\""));
    // WAV: 16-bit stereo at 44.1 kHz, as long as the MIDI plus the one-second release tail.
    auto wav = read_file_bytes(out_dir + "/piece-1.wav");
    ASSERT_GT(wav.size(), 44u);
    std::uint32_t rate = wav[24] | (wav[25] << 8) | (wav[26] << 16) | (static_cast<std::uint32_t>(wav[27]) << 24);
    EXPECT_EQ(rate, 44100u);
    double seconds = static_cast<double>(wav.size() - 44) / (44100.0 * 4);
    EXPECT_NEAR(seconds, len + 1.0, 0.02);
  }
  // PNG: the promised size, and not blank.
  cairo_surface_t* png = cairo_image_surface_create_from_png((out_dir + "/piece-1.png").c_str());
  ASSERT_EQ(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
  EXPECT_EQ(cairo_image_surface_get_width(png), 1200);
  EXPECT_EQ(cairo_image_surface_get_height(png), 480);
  const unsigned char* px = cairo_image_surface_get_data(png);
  int stride = cairo_image_surface_get_stride(png), coloured = 0;
  for (int y = 0; y < 480; ++y) {
    for (int x = 0; x < 1200; ++x) {
      const unsigned char* p = px + y * stride + 4 * x;
      // ARGB32 in memory is B, G, R, A: a note's colour (any instrument's), not the grey grid.
      coloured += std::max({p[0], p[1], p[2]}) > std::min({p[0], p[1], p[2]}) + 40;
    }
  }
  cairo_surface_destroy(png);
  EXPECT_GT(coloured, 100);  // not blank: a sparse demo piece draws ~170 note pixels
  // evaluate --json: the documented keys, per piece and in total, and a broken file listed.
  write_file_atomic(dir + "/midi/broken.mid", std::string("MThd", 4));
  std::string ev;
  ASSERT_EQ(run(kArioso + " evaluate " + out_dir + "/run --midi " + dir + "/midi --json 2>/dev/null", &ev), 0) << ev;
  auto e = nlohmann::json::parse(ev);
  ASSERT_EQ(e["pieces"].size(), 4u);
  long tokens = 0;
  for (const auto& p : e["pieces"]) {
    for (const char* k : {"file", "tokens", "nll_sum", "nll_per_token", "perplexity", "accuracy", "beats", "seconds", "nll_per_beat"}) {
      EXPECT_TRUE(p.contains(k)) << k;
    }
    tokens += p["tokens"].get<long>();
  }
  EXPECT_EQ(e["total"]["tokens"].get<long>(), tokens);
  ASSERT_EQ(e["skipped"].size(), 1u);
  EXPECT_EQ(e["skipped"][0]["file"], dir + "/midi/broken.mid");
  fs::remove(dir + "/midi/broken.mid");
  // A second run reuses the corpus and the trained model.
  ASSERT_EQ(run(cmd, &log), 0) << log;
  EXPECT_NE(log.find("corpus: reusing"), std::string::npos) << log;
  EXPECT_NE(log.find("model: reusing"), std::string::npos) << log;
  fs::remove_all(dir);
}

// `arioso train my-midis/ -o RUN`: the folder (with a broken file) is prepared into
// RUN/corpus.arioso, the skipped file is listed, training runs (also as two local ranks, which
// get the corpus rather than the folder), the run resumes from its own corpus, the run folder
// is not overwritten, and generate works from it.
TEST(Cli, TrainsFromAMidiFolder) {
  std::string dir = temp_dir("train-folder");
  write_tiny_corpus(dir + "/midi");
  write_file_atomic(dir + "/midi/broken.mid", std::string("MThd", 4));
  std::string log;
  const std::string train = kArioso + " train " + dir + "/midi --preset tiny --window 32 --batch-size 4 --no-augment";
  ASSERT_EQ(run(train + " -o " + dir + "/run --epochs 1", &log), 0) << log;
  EXPECT_NE(log.find("preparing " + dir + "/midi (remi tokenizer) into " + dir + "/run/corpus.arioso"), std::string::npos) << log;
  EXPECT_NE(log.find("4 files read, 1 skipped"), std::string::npos) << log;
  EXPECT_NE(log.find("skipped " + dir + "/midi/broken.mid: "), std::string::npos) << log;
  auto cfg_bytes = read_file_bytes(dir + "/run/config.json");
  auto cfg = nlohmann::json::parse(std::string(cfg_bytes.begin(), cfg_bytes.end()));
  EXPECT_EQ(cfg["corpus"], dir + "/run/corpus.arioso");
  ASSERT_EQ(run(kArioso + " train --resume " + dir + "/run --epochs 2", &log), 0) << log;
  EXPECT_EQ(log.find("preparing"), std::string::npos) << log;
  EXPECT_NE(log.find("epoch 2:"), std::string::npos) << log;
  // The run folder already holds a run: refused before anything is written over.
  const auto corpus_before = read_file_bytes(dir + "/run/corpus.arioso");
  EXPECT_EQ(run(train + " -o " + dir + "/run", &log), 1) << log;
  EXPECT_NE(log.find(dir + "/run: already holds a run (last.pt); use --resume"), std::string::npos) << log;
  EXPECT_EQ(read_file_bytes(dir + "/run/corpus.arioso"), corpus_before);
  ASSERT_EQ(run(train + " -o " + dir + "/two --epochs 1 --ranks 2", &log), 0) << log;
  EXPECT_NE(log.find("2 ranks took part"), std::string::npos) << log;
  EXPECT_EQ(log.find("preparing", log.find("preparing") + 1), std::string::npos) << "prepared twice:\n" << log;
  ASSERT_EQ(run(kArioso + " generate " + dir + "/run -o " + dir + "/out --bars 4", &log), 0) << log;
  EXPECT_TRUE(fs::exists(dir + "/out/piece.mid")) << log;
  // No -o: runs/<folder name>, then runs/<name>-2; generate with no run takes the newest.
  const std::string here = "cd " + dir + " && ";
  ASSERT_EQ(run(here + kArioso + " generate", &log), 2) << log;
  EXPECT_NE(log.find("give a run folder"), std::string::npos) << log;
  ASSERT_EQ(run(here + kArioso + " train midi/ --preset tiny --window 32 --batch-size 4 --epochs 1", &log), 0) << log;
  EXPECT_NE(log.find("run folder: runs/midi (-o DIR to choose)"), std::string::npos) << log;
  ASSERT_EQ(run(here + kArioso + " train midi --preset tiny --window 32 --batch-size 4 --epochs 1 --ranks 2", &log), 0) << log;
  EXPECT_NE(log.find("run folder: runs/midi-2"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(dir + "/runs/midi-2/best.pt")) << log;
  ASSERT_EQ(run(here + kArioso + " generate --bars 2", &log), 0) << log;
  EXPECT_NE(log.find("run: runs/midi-2"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(dir + "/piece.mid")) << log;
  fs::remove_all(dir);
}

// Arrangements: a folder of band tunes (tune, bass, drums) trains a model with instruments;
// `generate --instruments` writes only those, each on its own track with its General MIDI
// name, channel and program (read back by mido), drums on channel 10; `--no-drums` has none;
// `info` lists the parts; the piano roll draws them.
TEST(Cli, ArrangementsWithInstrumentControl) {
  std::string dir = temp_dir("arrangements");
  fs::create_directories(dir + "/midi");
  for (int p = 0; p < 4; ++p) write_file_atomic(dir + "/midi/band" + std::to_string(p) + ".mid", band_tune_midi(p + 3, 96));
  std::string log;
  ASSERT_EQ(run(kArioso + " train " + dir + "/midi -o " + dir + "/run --preset tiny --epochs 3 --window 64 --batch-size 4 --threads 1", &log), 0) << log;
  ASSERT_EQ(run(kArioso + " info " + dir + "/midi/band0.mid --json", &log), 0) << log;
  auto info = nlohmann::json::parse(log);
  ASSERT_EQ(info["parts"].size(), 3u) << log;
  EXPECT_EQ(info["parts"][0]["name"], "Acoustic Grand Piano");
  EXPECT_EQ(info["parts"][1]["name"], "Electric Bass (finger)");
  EXPECT_EQ(info["parts"][2]["instrument"], "drums");
  const std::string gen = kArioso + " generate " + dir + "/run --num 3 --bars 4 --max-copy 0 --temperature 1.3 --png -o " + dir + "/out";
  ASSERT_EQ(run(gen + " --instruments 'bass, drums' --name asked", &log), 0) << log;
  ASSERT_EQ(run(gen + " --no-drums --name nodrums", &log), 0) << log;
  // The user's own music, as the README shows it: bars composed anew, parts added.
  const std::string song = dir + "/midi/band1.mid";
  ASSERT_EQ(run(kArioso + " infill " + song + " --run " + dir + "/run --bars 3-4 --json --png -o " + dir + "/out/filled.mid", &log), 0) << log;
  auto filled = nlohmann::json::parse(log);
  EXPECT_EQ(filled["bars"], nlohmann::json::array({3, 4}));
  EXPECT_EQ(filled["hanging_notes"], 0);
  EXPECT_EQ(filled["doubled_notes"], 0);
  EXPECT_GT(filled["notes_kept"].get<int>(), 0);
  EXPECT_TRUE(fs::exists(dir + "/out/filled.mid") && fs::exists(dir + "/out/filled.png"));
  ASSERT_EQ(run(kArioso + " accompany " + dir + "/midi/band2.mid --run " + dir + "/run --add strings --json -o " + dir + "/out/acc.mid", &log), 0) << log;
  auto added = nlohmann::json::parse(log);
  EXPECT_EQ(added["notes_replaced"], 0);
  std::set<std::string> strings;  // "strings": the Strings family and the string ensembles, 40-51
  for (int p = 40; p <= 51; ++p) strings.insert(music::program_name(p));
  ASSERT_EQ(added["instruments"].size(), 1u) << added.dump();
  EXPECT_TRUE(strings.count(added["instruments"][0].get<std::string>())) << added.dump();
  EXPECT_EQ(run(kArioso + " infill " + song + " --run " + dir + "/run --bars 90-99 -o " + dir + "/out/x.mid", &log), 2);
  EXPECT_NE(log.find("--bars 90-99: the song has 12 bars"), std::string::npos) << log;
  if (!have_mido()) GTEST_SKIP() << "python3-mido not installed";
  std::vector<std::string> files;
  for (int i = 1; i <= 3; ++i) {
    files.push_back(dir + "/out/asked-" + std::to_string(i) + ".mid");
    files.push_back(dir + "/out/nodrums-" + std::to_string(i) + ".mid");
  }
  std::size_t bass = 0, drums = 0;
  for (const auto& j : run_reference(ARIOSO_SOURCE_DIR "/tests/reference/mido_tracks.py", files)) {
    const bool asked = j["file"].get<std::string>().find("asked") != std::string::npos;
    int pitched_tracks = 0;
    for (const auto& t : j["tracks"]) {
      if (t["notes"].get<int>() == 0) continue;
      ASSERT_EQ(t["channels"].size(), 1u) << j.dump();
      ASSERT_EQ(t["programs"].size(), 1u) << j.dump();
      const int channel = t["channels"][0], program = t["programs"][0];
      if (channel == 9) {
        EXPECT_TRUE(asked) << "--no-drums let drums through: " << j.dump();
        EXPECT_EQ(t["name"], "Drums");
        drums += t["notes"].get<std::size_t>();
        continue;
      }
      EXPECT_EQ(t["name"], music::program_name(program));
      ++pitched_tracks;
      if (asked) {  // "bass": one bass of the family (32-39), of the model's choice
        EXPECT_TRUE(program >= 32 && program <= 39) << j.dump();
        bass += t["notes"].get<std::size_t>();
      }
    }
    if (asked) {
      EXPECT_LE(pitched_tracks, 1) << j.dump();
    }
  }
  EXPECT_GT(bass + drums, 0u);
  EXPECT_TRUE(fs::exists(dir + "/out/asked-1.png"));
  fs::remove_all(dir);
}

TEST(Cli, InfoGoesOnPastABrokenFile) {
  std::string dir = temp_dir("info");
  write_tiny_corpus(dir);
  write_file_atomic(dir + "/bad.mid", std::string("MThd\0\0\0\6", 8));
  std::string out;
  EXPECT_EQ(run(kArioso + " info " + dir + "/bad.mid " + dir + "/tune0.mid", &out), 1);
  EXPECT_NE(out.find(dir + "/bad.mid:0x0: truncated header: expected 14 bytes, 8 available"), std::string::npos) << out;
  EXPECT_NE(out.find("format 1, 480 ticks per quarter"), std::string::npos) << out;
  EXPECT_EQ(run(kArioso + " info --json " + dir + "/tune0.mid", &out), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["note_count"], 80);
  fs::remove_all(dir);
}
