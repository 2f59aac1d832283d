// Standard MIDI File 1.0 bytes <-> MidiFile (chunks, variable-length quantities, running
// status, channel messages, sysex, meta events). Events keep absolute ticks and the byte
// offset they were read from. Notes and tempo maps are derived in notes.h, not here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace arioso::midi {

/// Meta event types we name (SMF 1.0 section "Meta-Events"); others are kept raw.
enum MetaType : std::uint8_t {
  kMetaSequenceNumber = 0x00,
  kMetaText = 0x01,
  kMetaCopyright = 0x02,
  kMetaTrackName = 0x03,
  kMetaInstrumentName = 0x04,
  kMetaLyric = 0x05,
  kMetaMarker = 0x06,
  kMetaCuePoint = 0x07,
  kMetaChannelPrefix = 0x20,
  kMetaPort = 0x21,
  kMetaEndOfTrack = 0x2F,
  kMetaTempo = 0x51,
  kMetaSmpteOffset = 0x54,
  kMetaTimeSignature = 0x58,
  kMetaKeySignature = 0x59,
  kMetaSequencerSpecific = 0x7F,
};

/// One track event at an absolute tick.
struct Event {
  std::uint64_t tick = 0;     ///< absolute time in ticks from the start of the track
  std::uint8_t status = 0;    ///< 0x80..0xEF channel message, 0xF0/0xF7 sysex, 0xFF meta
  std::uint8_t meta_type = 0; ///< meta event type when status == 0xFF
  std::uint8_t data1 = 0;     ///< first data byte of a channel message
  std::uint8_t data2 = 0;     ///< second data byte (0 for one-byte messages)
  std::vector<std::uint8_t> payload;  ///< sysex or meta data, without the length
  std::size_t offset = 0;     ///< byte offset of the event's delta time in the file (0 if built)

  bool is_channel() const { return status >= 0x80 && status < 0xF0; }
  bool is_meta() const { return status == 0xFF; }
  bool is_sysex() const { return status == 0xF0 || status == 0xF7; }
  std::uint8_t kind() const { return static_cast<std::uint8_t>(status & 0xF0); }  ///< 0x80..0xE0
  std::uint8_t channel() const { return static_cast<std::uint8_t>(status & 0x0F); } ///< 0..15
  /// A note-on with velocity 0 is a note-off (SMF 1.0, "running status" remarks; every reader does this).
  bool is_note_on() const { return kind() == 0x90 && data2 > 0; }
  bool is_note_off() const { return kind() == 0x80 || (kind() == 0x90 && data2 == 0); }

  bool operator==(const Event& o) const {
    return tick == o.tick && status == o.status && meta_type == o.meta_type && data1 == o.data1 &&
           data2 == o.data2 && payload == o.payload;
  }
};

struct Track {
  std::vector<Event> events;  ///< in file order (ticks never decrease)
};

/// Header division: ticks per quarter note, or SMPTE frames per second x ticks per frame.
struct Division {
  std::uint16_t ticks_per_quarter = 480;  ///< meaningful when !smpte
  bool smpte = false;
  int frames_per_second = 0;              ///< 24, 25, 29 (drop frame 29.97) or 30 when smpte
  int ticks_per_frame = 0;                ///< when smpte
  std::uint16_t raw() const;              ///< the 16-bit header field
};

struct MidiFile {
  int format = 1;             ///< 0, 1 or 2
  Division division;
  std::vector<Track> tracks;
};

/// A recovery made while reading leniently; `message` is complete (`path:0x1a: track 0: ...`).
struct Diagnostic {
  std::size_t offset = 0;
  int track = -1;
  std::string message;
};

struct ReadOptions {
  bool strict = false;  ///< strict: any violation of SMF 1.0 throws; lenient: recover and report
  std::string path;     ///< used in messages only
};

/// Parses SMF bytes. Throws ParseError (strict: on any violation; lenient: when nothing sensible
/// can be read). Lenient recoveries are appended to `diagnostics` when it is not null.
/// Allocation is bounded by the input size.
MidiFile read_midi(const std::uint8_t* data, std::size_t size, const ReadOptions& options = {},
                   std::vector<Diagnostic>* diagnostics = nullptr);
inline MidiFile read_midi(const std::vector<std::uint8_t>& bytes, const ReadOptions& options = {},
                          std::vector<Diagnostic>* diagnostics = nullptr) {
  return read_midi(bytes.data(), bytes.size(), options, diagnostics);
}
/// Reads a file from disk (the path is used in messages).
MidiFile read_midi_file(const std::string& path, bool strict = false, std::vector<Diagnostic>* diagnostics = nullptr);

/// Canonical SMF bytes: minimal VLQs, running status for consecutive channel messages of equal
/// status (restated after meta and sysex events, which cancel it), end-of-track on every track.
/// Throws Error if format 0 has more than one track or ticks decrease.
std::vector<std::uint8_t> write_midi(const MidiFile& file);

/// Appends a variable-length quantity (at most 0x0FFFFFFF) to `out`.
void write_vlq(std::vector<std::uint8_t>& out, std::uint32_t value);

// --- Event builders, for tests and for writing generated music.
Event make_channel(std::uint64_t tick, std::uint8_t kind, int channel, int data1, int data2 = 0);
Event make_meta(std::uint64_t tick, std::uint8_t type, std::vector<std::uint8_t> payload);
Event make_tempo(std::uint64_t tick, std::uint32_t us_per_quarter);
Event make_time_signature(std::uint64_t tick, int numerator, int denominator);
Event make_text(std::uint64_t tick, std::uint8_t type, const std::string& text);

}  // namespace arioso::midi
