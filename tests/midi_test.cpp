// MIDI codec: hand-built files of every event kind, running status, SMPTE, formats 0/1/2,
// exact error messages for malformed input, lenient recoveries, round trips, and a
// cross-check of note lists against mido on every real file available.
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "midi/midi_file.h"
#include "midi/notes.h"
#include "test_util.h"

using namespace arioso;
using namespace arioso::test;

namespace {

std::string dump(const midi::MidiFile& f) {
  std::string s = fmt::format("format {} division {:#06x} tracks {}\n", f.format, f.division.raw(), f.tracks.size());
  for (std::size_t t = 0; t < f.tracks.size(); ++t) {
    for (const auto& e : f.tracks[t].events) {
      s += fmt::format("{} {} {:02x}", t, e.tick, e.status);
      if (e.is_channel()) s += fmt::format(" {} {}", e.data1, e.data2);
      if (e.is_meta()) s += fmt::format(" type {:02x}", e.meta_type);
      if (!e.payload.empty()) {
        s += " [";
        for (auto b : e.payload) s += fmt::format("{:02x}", b);
        s += "]";
      }
      s += "\n";
    }
  }
  return s;
}

midi::MidiFile read_strict(const Bytes& b) {
  midi::ReadOptions o;
  o.strict = true;
  o.path = "t.mid";
  return midi::read_midi(b, o);
}

std::vector<midi::Diagnostic> read_lenient(const Bytes& b, midi::MidiFile* out = nullptr) {
  midi::ReadOptions o;
  o.path = "t.mid";
  std::vector<midi::Diagnostic> d;
  auto f = midi::read_midi(b, o, &d);
  if (out) *out = f;
  return d;
}

// Every event kind, running status within channel messages, sysex F0 and F7 escapes.
const Bytes kAllKinds = cat({header(1, 2, 96),
                             track({0x00, 0xFF, 0x00, 0x02, 0x00, 0x07,                     // sequence number 7
                                    0x00, 0xFF, 0x03, 0x04, 'S', 'o', 'n', 'g',             // track name
                                    0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,               // tempo 500000
                                    0x00, 0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08,         // 3/4
                                    0x00, 0xFF, 0x59, 0x02, 0xFE, 0x01,                     // 2 flats, minor
                                    0x00, 0xFF, 0x54, 0x05, 0x60, 0x00, 0x00, 0x00, 0x00,   // SMPTE offset
                                    0x00, 0xFF, 0x7F, 0x02, 0x00, 0x41,                     // sequencer specific
                                    0x00, 0xFF, 0x60, 0x01, 0x09,                           // unknown meta, kept raw
                                    0x00, 0xFF, 0x2F, 0x00}),
                             track({0x00, 0xFF, 0x20, 0x01, 0x00,                           // channel prefix
                                    0x00, 0xFF, 0x04, 0x02, 'P', 'f',                       // instrument name
                                    0x00, 0xC0, 0x05,                                       // program 5
                                    0x00, 0x90, 0x3C, 0x64,                                 // note on
                                    0x00, 0x40, 0x50,                                       // running status
                                    0x60, 0x80, 0x3C, 0x00,                                 // note off
                                    0x00, 0x90, 0x40, 0x00,                                 // note-on vel 0 = off
                                    0x00, 0xA0, 0x3C, 0x10, 0x00, 0xB0, 0x07, 0x64, 0x00, 0xD0, 0x20,
                                    0x00, 0xE0, 0x00, 0x40,                                 // pitch bend
                                    0x00, 0xF0, 0x03, 0x7E, 0x01, 0xF7,                     // sysex
                                    0x00, 0xF7, 0x02, 0xF3, 0x01,                           // escape
                                    0x00, 0xFF, 0x06, 0x01, 'M',                            // marker
                                    0x00, 0xFF, 0x2F, 0x00})});

}  // namespace

TEST(MidiRead, EveryEventKindGolden) {
  auto f = read_strict(kAllKinds);
  EXPECT_EQ(dump(f),
            "format 1 division 0x0060 tracks 2\n"
            "0 0 ff type 00 [0007]\n0 0 ff type 03 [536f6e67]\n0 0 ff type 51 [07a120]\n"
            "0 0 ff type 58 [03021808]\n0 0 ff type 59 [fe01]\n0 0 ff type 54 [6000000000]\n"
            "0 0 ff type 7f [0041]\n0 0 ff type 60 [09]\n0 0 ff type 2f\n"
            "1 0 ff type 20 [00]\n1 0 ff type 04 [5066]\n1 0 c0 5 0\n1 0 90 60 100\n1 0 90 64 80\n"
            "1 96 80 60 0\n1 96 90 64 0\n1 96 a0 60 16\n1 96 b0 7 100\n1 96 d0 32 0\n1 96 e0 0 64\n"
            "1 96 f0 [7e01f7]\n1 96 f7 [f301]\n1 96 ff type 06 [4d]\n1 96 ff type 2f\n");
  auto notes = midi::extract_notes(f);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].pitch, 60);
  EXPECT_EQ(notes[0].end_tick, 96u);
  EXPECT_EQ(notes[0].program, 5);
  EXPECT_EQ(notes[1].pitch, 64);
  EXPECT_EQ(notes[1].velocity, 80);
  auto ks = midi::key_signatures(f);
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks[0].sharps, -2);
  EXPECT_TRUE(ks[0].minor);
  auto ts = midi::time_signatures(f);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].numerator, 3);
  EXPECT_EQ(ts[0].denominator, 4);
}

TEST(MidiRead, Format0And2AndSmpte) {
  auto f0 = read_strict(cat({header(0, 1, 480), track({0x00, 0x91, 0x30, 0x40, 0x83, 0x60, 0x81, 0x30, 0x00, 0x00, 0xFF, 0x2F, 0x00})}));
  EXPECT_EQ(f0.format, 0);
  auto n0 = midi::extract_notes(f0);
  ASSERT_EQ(n0.size(), 1u);
  EXPECT_EQ(n0[0].end_tick, 480u);
  EXPECT_EQ(n0[0].channel, 1);
  // Format 2: program changes apply to their own track only.
  auto f2 = read_strict(cat({header(2, 2, 480), track({0x00, 0xC0, 0x07, 0x00, 0x90, 0x30, 0x40, 0x10, 0x80, 0x30, 0x00, 0x00, 0xFF, 0x2F, 0x00}),
                             track({0x00, 0x90, 0x32, 0x40, 0x10, 0x80, 0x32, 0x00, 0x00, 0xFF, 0x2F, 0x00})}));
  auto n2 = midi::extract_notes(f2);
  ASSERT_EQ(n2.size(), 2u);
  EXPECT_EQ(n2[0].program, 7);
  EXPECT_EQ(n2[1].program, 0);
  // SMPTE: 25 fps x 40 ticks per frame = 1000 ticks per second.
  auto fs = read_strict(cat({header(1, 1, 0xE728), track({0x00, 0x90, 0x30, 0x40, 0x87, 0x68, 0x80, 0x30, 0x00, 0x00, 0xFF, 0x2F, 0x00})}));
  EXPECT_TRUE(fs.division.smpte);
  EXPECT_EQ(fs.division.frames_per_second, 25);
  EXPECT_EQ(fs.division.ticks_per_frame, 40);
  EXPECT_DOUBLE_EQ(midi::TempoMap(fs).seconds(1000), 1.0);
  EXPECT_EQ(fs.division.raw(), 0xE728);
}

TEST(MidiRead, UnknownChunkSkipped) {
  Bytes alien = {'X', 'F', 'I', 'H', 0, 0, 0, 3, 1, 2, 3};
  auto f = read_strict(cat({header(1, 1, 96), alien, track({0x00, 0xFF, 0x2F, 0x00})}));
  EXPECT_EQ(f.tracks.size(), 1u);
}

TEST(MidiRead, NotePairingRules) {
  // FIFO per (channel, pitch): two overlapping C4s; a re-strike; a note with no note-off; a zero-length note.
  auto f = read_strict(cat({header(1, 1, 100), track({0x00, 0x90, 60, 10,       // A on @0
                                                       0x0A, 0x90, 60, 20,       // B on @10
                                                       0x0A, 0x80, 60, 0,        // off @20 ends A
                                                       0x0A, 0x90, 60, 0,        // off @30 ends B
                                                       0x00, 0x90, 62, 30,       // zero-length @30
                                                       0x00, 0x80, 62, 0,
                                                       0x00, 0x90, 64, 40,       // never ended
                                                       0x32, 0xFF, 0x2F, 0x00})}));  // track ends @80
  midi::NoteStats st;
  auto n = midi::extract_notes(f, &st);
  ASSERT_EQ(n.size(), 4u);
  EXPECT_EQ(n[0].start_tick, 0u);
  EXPECT_EQ(n[0].end_tick, 20u);
  EXPECT_EQ(n[0].velocity, 10);
  EXPECT_EQ(n[1].start_tick, 10u);
  EXPECT_EQ(n[1].end_tick, 30u);
  EXPECT_EQ(n[2].pitch, 62);
  EXPECT_EQ(n[2].end_tick, 30u);
  EXPECT_EQ(n[3].pitch, 64);
  EXPECT_EQ(n[3].end_tick, 80u);
  EXPECT_EQ(st.zero_length, 1u);
  EXPECT_EQ(st.unterminated, 1u);
}

TEST(MidiRead, TempoMap) {
  // 120 BPM for 480 ticks, then 60 BPM.
  midi::TempoMap m({{0, 500000}, {480, 1000000}}, 480);
  EXPECT_DOUBLE_EQ(m.seconds(480), 0.5);
  EXPECT_DOUBLE_EQ(m.seconds(960), 1.5);
  EXPECT_EQ(m.tick_at(1.5), 960u);
  midi::TempoMap d({}, 96);
  EXPECT_DOUBLE_EQ(d.seconds(96), 0.5);
}

TEST(MidiErrors, ExactMessages) {
  EXPECT_THROW_MSG(read_strict({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1}), ParseError,
                   "t.mid:0x0: truncated header: expected 14 bytes, 10 available");
  EXPECT_THROW_MSG(read_strict({'R', 'I', 'F', 'X', 1, 2, 3, 4}), ParseError, "t.mid:0x0: not a MIDI file: no MThd header");
  EXPECT_THROW_MSG(read_strict(header(1, 1, 0)), ParseError, "t.mid:0xc: division of 0 ticks per quarter note");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0x90, 0x3C}, 20)})), ParseError,
                   "t.mid:0x12: track 0: track length 20 runs past the end of the file (3 bytes available)");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0x90, 0x3C})})), ParseError,
                   "t.mid:0x16: track 0: truncated event: expected 2 data bytes, 1 available");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x81, 0x80, 0x80, 0x80, 0x00, 0x90, 0x3C, 0x40})})), ParseError,
                   "t.mid:0x16: track 0: variable-length quantity longer than 4 bytes");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00})})), ParseError,
                   "t.mid:0x17: track 0: running status byte with no previous status byte; 2 data bytes skipped");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0x90, 0x3C, 0x40})})), ParseError,
                   "t.mid:0x1a: track 0: missing end-of-track event");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0xFF, 0x59, 0x02, 0xFF, 0xFF, 0x00, 0xFF, 0x2F, 0x00})})), ParseError,
                   "t.mid:0x16: track 0: key signature mode 255 out of range (0 major, 1 minor); read as major");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x01, 0x00, 0x00, 0x3C, 0x00, 0x00, 0xFF, 0x2F, 0x00})})),
                   ParseError, "t.mid:0x1f: track 0: running status after a meta or sysex event, which cancels it");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0xFF, 0x2F, 0x00}), Bytes{1, 2, 3}})), ParseError,
                   "t.mid:0x1a: trailing garbage: 3 bytes after the last chunk; ignored");
  EXPECT_THROW_MSG(read_strict(cat({header(1, 1, 96), track({0x00, 0xFF, 0x01, 0x10, 'a'})})), ParseError,
                   "t.mid:0x16: track 0: meta event length 16 runs past the end of the track (1 bytes available)");
}

TEST(MidiLenient, RecoversAndReports) {
  midi::MidiFile f;
  // Track length past EOF, running status across a meta event, key mode 255, missing end-of-track, trailing bytes.
  Bytes body = {0x00, 0xFF, 0x59, 0x02, 0x01, 0xFF, 0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x01, 0x00, 0x60, 0x3C, 0x00};
  auto d = read_lenient(cat({header(1, 1, 96), track(body, 100)}), &f);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].message, "t.mid:0x12: track 0: track length 100 runs past the end of the file (17 bytes available)");
  EXPECT_EQ(d[1].message, "t.mid:0x16: track 0: key signature mode 255 out of range (0 major, 1 minor); read as major");
  EXPECT_EQ(d[2].message, "t.mid:0x25: track 0: running status used across a meta or sysex event (1 times); kept");
  EXPECT_EQ(d[3].message, "t.mid:0x27: track 0: missing end-of-track event");
  auto notes = midi::extract_notes(f);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].end_tick, 96u);
  EXPECT_EQ(midi::key_signatures(f).size(), 1u);
  // Data bytes with no status are skipped; a status byte inside a message drops it.
  auto d2 = read_lenient(cat({header(1, 1, 96), track({0x00, 0x3C, 0x40, 0x00, 0x90, 0x3C, 0x90, 0x3D, 0x40, 0x00, 0xFF, 0x2F, 0x00})}), &f);
  ASSERT_EQ(d2.size(), 2u);
  EXPECT_EQ(d2[1].message, "t.mid:0x1c: track 0: expected a data byte, found status byte 0x90; event dropped");
  ASSERT_EQ(f.tracks[0].events.size(), 2u);
  EXPECT_EQ(f.tracks[0].events[0].data1, 0x3D);
}

TEST(MidiLenient, HugeClaimsDoNotAllocate) {
  // A track claiming 4 GB and a meta event claiming 256 MB: read what is there, no huge allocation.
  Bytes b = cat({header(1, 1, 96), track({0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0x7F}, 0xFFFFFFFF)});
  auto d = read_lenient(b);
  EXPECT_GE(d.size(), 2u);
}

TEST(MidiWrite, CanonicalRoundTripIsByteIdentical) {
  auto f = read_strict(kAllKinds);
  Bytes once = midi::write_midi(f);
  auto g = read_strict(once);
  EXPECT_EQ(dump(f), dump(g));
  EXPECT_EQ(midi::write_midi(g), once);
  // Running status used: the second note-on in track 1 has no status byte.
  midi::MidiFile h;
  h.format = 0;
  h.division.ticks_per_quarter = 96;
  h.tracks.resize(1);
  h.tracks[0].events = {midi::make_channel(0, 0x90, 0, 60, 100), midi::make_channel(0, 0x90, 0, 64, 100),
                        midi::make_channel(96, 0x90, 0, 60, 0)};
  EXPECT_EQ(midi::write_midi(h), cat({header(0, 1, 96), track({0x00, 0x90, 60, 100, 0x00, 64, 100, 0x60, 60, 0, 0x00, 0xFF, 0x2F, 0x00})}));
}

TEST(MidiWrite, Vlq) {
  std::vector<std::uint8_t> out;
  midi::write_vlq(out, 0);
  midi::write_vlq(out, 0x7F);
  midi::write_vlq(out, 0x80);
  midi::write_vlq(out, 0x0FFFFFFF);
  EXPECT_EQ(out, (Bytes{0x00, 0x7F, 0x81, 0x00, 0xFF, 0xFF, 0xFF, 0x7F}));
}

// --- Real files: round trip and the cross-check against mido.

static std::vector<std::string> real_files() {
  std::vector<std::string> inputs = real_midi_inputs();
  if (inputs.empty()) return {};
  return find_midi_files(inputs);
}

TEST(MidiReal, RoundTripKeepsEvents) {
  auto files = real_files();
  if (files.empty()) GTEST_SKIP() << "no default corpus or ../shared on this machine";
  for (const auto& path : files) {
    auto f = midi::read_midi_file(path);
    auto g = midi::read_midi(midi::write_midi(f));
    ASSERT_EQ(f.tracks.size(), g.tracks.size()) << path;
    for (std::size_t t = 0; t < f.tracks.size(); ++t) {
      auto a = f.tracks[t].events, b = g.tracks[t].events;
      // The writer puts exactly one end-of-track last.
      auto strip = [](std::vector<midi::Event>& v) {
        v.erase(std::remove_if(v.begin(), v.end(), [](const midi::Event& e) { return e.is_meta() && e.meta_type == midi::kMetaEndOfTrack; }), v.end());
      };
      strip(a);
      strip(b);
      ASSERT_TRUE(a == b) << path << " track " << t;
    }
  }
}

TEST(MidiReal, NotesEqualMido) {
  auto files = real_files();
  if (files.empty()) GTEST_SKIP() << "no default corpus or ../shared on this machine";
  if (!have_mido()) GTEST_SKIP() << "python3-mido not installed";
  std::size_t checked = 0, mido_failed = 0;
  for (const auto& j : run_reference(ARIOSO_SOURCE_DIR "/tests/reference/mido_notes.py", files)) {
    std::string path = j["file"];
    std::vector<midi::Diagnostic> diags;
    auto f = midi::read_midi_file(path, false, &diags);
    auto notes = midi::extract_notes(f);
    if (j.contains("error")) {
      // mido gives up (key signature mode 255 in two simutrans files); we read and say what we recovered.
      ++mido_failed;
      EXPECT_FALSE(diags.empty()) << path;
      EXPECT_FALSE(notes.empty()) << path;
      continue;
    }
    const auto& ref = j["notes"];
    ASSERT_EQ(ref.size(), notes.size()) << path;
    for (std::size_t i = 0; i < notes.size(); ++i) {
      const auto& r = ref[i];
      const auto& n = notes[i];
      ASSERT_EQ((std::vector<long>{n.track, n.channel, n.program, n.pitch, n.velocity, (long)n.start_tick, (long)n.end_tick}),
                r.get<std::vector<long>>())
          << path << " note " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked + mido_failed, files.size());
  std::printf("cross-checked %zu files against mido; %zu that mido cannot read were read leniently\n", checked, mido_failed);
}
