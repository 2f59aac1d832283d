// SMF reader and writer; see midi_file.h. Every rule of the format is checked where it is
// read, with the lenient recovery beside it: real files break the spec in a few common ways
// (track lengths that run past the end, missing end-of-track, running status across meta
// events, out-of-range meta values) and a user's folder must still be read.
#include "midi/midi_file.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"

namespace arioso::midi {

std::uint16_t Division::raw() const {
  if (!smpte) return ticks_per_quarter;
  auto fps = static_cast<std::uint8_t>(-frames_per_second);
  return static_cast<std::uint16_t>((fps << 8) | (ticks_per_frame & 0xFF));
}

namespace {

/// Number of data bytes that follow a channel status byte.
int data_bytes(std::uint8_t status) {
  std::uint8_t kind = status & 0xF0;
  return (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
}

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size, const ReadOptions& options, std::vector<Diagnostic>* diags)
      : d_(data), size_(size), opt_(options), diags_(diags) {}

  MidiFile read() {
    MidiFile file;
    std::size_t pos = find_header();
    if (size_ - pos < 14) {
      fail(pos, -1, fmt::format("truncated header: expected 14 bytes, {} available", size_ - pos));
    }
    std::uint32_t header_len = u32(pos + 4);
    if (header_len < 6) fail(pos + 4, -1, fmt::format("header length {} is less than 6", header_len));
    if (header_len > size_ - pos - 8) {
      fail(pos + 4, -1, fmt::format("header length {} runs past the end of the file", header_len));
    }
    if (header_len > 6) warn(pos + 14, -1, fmt::format("header has {} extra bytes; ignored", header_len - 6));
    int format = u16(pos + 8);
    int ntracks = u16(pos + 10);
    std::uint16_t division = u16(pos + 12);
    if (format > 2) {
      warn(pos + 8, -1, fmt::format("unknown format {}; read as format 1", format));
      format = 1;
    }
    file.format = format;
    if (division & 0x8000) {
      int fps = -static_cast<int>(static_cast<std::int8_t>(division >> 8));
      file.division.smpte = true;
      file.division.frames_per_second = fps;
      file.division.ticks_per_frame = division & 0xFF;
      if (fps != 24 && fps != 25 && fps != 29 && fps != 30) {
        fail(pos + 12, -1, fmt::format("SMPTE division with {} frames per second (expected 24, 25, 29 or 30)", fps));
      }
      if (file.division.ticks_per_frame == 0) fail(pos + 12, -1, "SMPTE division with 0 ticks per frame");
    } else {
      if (division == 0) fail(pos + 12, -1, "division of 0 ticks per quarter note");
      file.division.ticks_per_quarter = division;
    }
    pos += 8 + header_len;

    while (pos < size_) {
      if (size_ - pos < 8) {
        warn(pos, -1, fmt::format("trailing garbage: {} bytes after the last chunk; ignored", size_ - pos));
        break;
      }
      const std::uint8_t* id = d_ + pos;
      std::uint32_t len = u32(pos + 4);
      std::size_t avail = size_ - pos - 8;
      bool is_track = std::memcmp(id, "MTrk", 4) == 0;
      if (!is_track) {
        bool printable = std::all_of(id, id + 4, [](std::uint8_t c) { return c >= 0x20 && c < 0x7F; });
        if (!printable) {
          warn(pos, -1, fmt::format("trailing garbage: {} bytes that are not a chunk; ignored", size_ - pos));
          break;
        }
        // Unknown chunk types are skipped (SMF 1.0: "expect and ignore any chunk types it does not know").
        if (len > avail) {
          warn(pos + 4, -1, fmt::format("chunk '{}' length {} runs past the end of the file; ignored",
                                        std::string(reinterpret_cast<const char*>(id), 4), len));
          break;
        }
        pos += 8 + static_cast<std::size_t>(len);
        continue;
      }
      int track = static_cast<int>(file.tracks.size());
      if (len > avail) {
        // Track length in the wild is often wrong; read up to the end of the file.
        warn(pos + 4, track, fmt::format("track length {} runs past the end of the file ({} bytes available)", len, avail));
        len = static_cast<std::uint32_t>(avail);
      }
      file.tracks.push_back(read_track(pos + 8, pos + 8 + len, track));
      pos += 8 + static_cast<std::size_t>(len);
    }
    if (static_cast<int>(file.tracks.size()) != ntracks) {
      warn(pos, -1, fmt::format("header says {} tracks, file has {}", ntracks, file.tracks.size()));
    }
    if (file.format == 0 && file.tracks.size() > 1) {
      warn(pos, -1, fmt::format("format 0 file with {} tracks; read as format 1", file.tracks.size()));
      file.format = 1;
    }
    return file;
  }

 private:
  [[noreturn]] void fail(std::size_t offset, int track, const std::string& what) const {
    throw ParseError(opt_.path, offset, track, what);
  }
  void warn(std::size_t offset, int track, const std::string& what) {
    if (opt_.strict) fail(offset, track, what);
    if (diags_) diags_->push_back({offset, track, format_location(opt_.path, offset, track) + what});
  }
  std::uint32_t u32(std::size_t p) const {
    return (std::uint32_t{d_[p]} << 24) | (std::uint32_t{d_[p + 1]} << 16) | (std::uint32_t{d_[p + 2]} << 8) | d_[p + 3];
  }
  std::uint16_t u16(std::size_t p) const { return static_cast<std::uint16_t>((d_[p] << 8) | d_[p + 1]); }

  std::size_t find_header() {
    if (size_ >= 4 && std::memcmp(d_, "MThd", 4) == 0) return 0;
    if (size_ >= 12 && std::memcmp(d_, "RIFF", 4) == 0 && std::memcmp(d_ + 8, "RMID", 4) == 0) {
      // RIFF-wrapped MIDI (.rmi): the SMF sits in the "data" chunk.
      for (std::size_t p = 12; p + 4 <= size_; ++p) {
        if (std::memcmp(d_ + p, "MThd", 4) == 0) {
          warn(0, -1, fmt::format("RIFF RMID wrapper; reading the MIDI file at {:#x}", p));
          return p;
        }
      }
    }
    fail(0, -1, size_ < 4 ? fmt::format("not a MIDI file: {} bytes, no MThd header", size_)
                          : "not a MIDI file: no MThd header");
  }

  /// Reads a variable-length quantity (at most 4 bytes, SMF 1.0) at `p` within [.., end).
  /// Returns false (after a lenient diagnostic) when the track cannot go on.
  bool vlq(std::size_t& p, std::size_t end, int track, std::uint32_t& value) {
    std::size_t start = p;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      if (p >= end) {
        warn(start, track, "truncated variable-length quantity at the end of the track");
        return false;
      }
      std::uint8_t c = d_[p++];
      value = (value << 7) | (c & 0x7F);
      if (!(c & 0x80)) return true;
    }
    warn(start, track, "variable-length quantity longer than 4 bytes");
    return false;
  }

  void check_meta(const Event& e, int track) {
    auto bad = [&](const std::string& what) { warn(e.offset, track, what); };
    const auto& p = e.payload;
    switch (e.meta_type) {
      case kMetaTempo:
        if (p.size() != 3) bad(fmt::format("tempo event with {} data bytes (expected 3); ignored", p.size()));
        else if (p[0] == 0 && p[1] == 0 && p[2] == 0) bad("tempo of 0 microseconds per quarter note; ignored");
        break;
      case kMetaTimeSignature:
        if (p.size() != 4) bad(fmt::format("time signature with {} data bytes (expected 4)", p.size()));
        else if (p[0] == 0 || p[1] > 6) bad(fmt::format("time signature {}/2^{} out of range; ignored", p[0], p[1]));
        break;
      case kMetaKeySignature:
        if (p.size() != 2) {
          bad(fmt::format("key signature with {} data bytes (expected 2); ignored", p.size()));
        } else {
          auto sf = static_cast<std::int8_t>(p[0]);
          if (sf < -7 || sf > 7) bad(fmt::format("key signature with {} sharps/flats out of range -7..7; ignored", sf));
          else if (p[1] > 1) bad(fmt::format("key signature mode {} out of range (0 major, 1 minor); read as major", p[1]));
        }
        break;
      case kMetaEndOfTrack:
        if (!p.empty()) bad(fmt::format("end-of-track with {} data bytes (expected 0)", p.size()));
        break;
      default:
        break;
    }
  }

  Track read_track(std::size_t begin, std::size_t end, int track) {
    Track t;
    t.events.reserve(std::min<std::size_t>((end - begin) / 3 + 1, 1u << 20));
    std::size_t p = begin;
    std::uint64_t tick = 0;
    std::uint8_t running = 0;       // last channel status byte, 0 if none
    bool cancelled = false;         // a meta/sysex event came after `running` was set
    std::size_t across_meta = 0;    // running status used across meta/sysex events
    std::size_t across_meta_first = 0;
    bool seen_eot = false;
    bool resume_at_status = false;  // a message was cut short by a status byte: it starts the next event
    while (p < end) {
      Event e;
      e.offset = p;
      std::uint32_t delta = 0;
      if (!resume_at_status && !vlq(p, end, track, delta)) break;
      resume_at_status = false;
      tick += delta;
      e.tick = tick;
      if (p >= end) {
        warn(e.offset, track, "truncated event: delta time with no event at the end of the track");
        break;
      }
      std::uint8_t b = d_[p];
      if (b == 0xFF || b == 0xF0 || b == 0xF7) {
        e.status = b;
        ++p;
        if (b == 0xFF) {
          if (p >= end) {
            warn(e.offset, track, "truncated meta event: no type byte");
            break;
          }
          e.meta_type = d_[p++];
        }
        std::uint32_t len;
        if (!vlq(p, end, track, len)) break;
        if (len > end - p) {
          warn(e.offset, track, fmt::format("{} length {} runs past the end of the track ({} bytes available)",
                                            b == 0xFF ? "meta event" : "sysex", len, end - p));
          break;
        }
        e.payload.assign(d_ + p, d_ + p + len);
        p += len;
        // SMF 1.0: sysex and meta events cancel running status.
        cancelled = running != 0;
        if (b == 0xFF) check_meta(e, track);
        bool eot = b == 0xFF && e.meta_type == kMetaEndOfTrack;
        t.events.push_back(std::move(e));
        if (eot) {
          seen_eot = true;
          if (p < end) warn(p, track, fmt::format("{} bytes after end-of-track; ignored", end - p));
          break;
        }
        continue;
      }
      if (b & 0x80) {
        if (b > 0xF0) {
          // System common and real-time messages have no place in a file.
          warn(p, track, fmt::format("system message {:#04x} is not allowed in a MIDI file; skipped", b));
          ++p;
          continue;
        }
        running = b;
        cancelled = false;
        ++p;
      } else {
        if (running == 0) {
          // Skip to the next status byte, leaving the byte before it as that event's delta time.
          std::size_t skip_from = p;
          while (p < end && !(d_[p] & 0x80)) ++p;
          if (p < end && p > skip_from + 1) --p;
          warn(skip_from, track, fmt::format("running status byte with no previous status byte; {} data bytes skipped",
                                             p - skip_from));
          continue;
        }
        if (cancelled) {
          if (opt_.strict) fail(p, track, "running status after a meta or sysex event, which cancels it");
          if (across_meta++ == 0) across_meta_first = p;
        }
      }
      e.status = running;
      int n = data_bytes(running);
      if (end - p < static_cast<std::size_t>(n)) {
        warn(e.offset, track, fmt::format("truncated event: expected {} data bytes, {} available", n, end - p));
        break;
      }
      bool ok = true;
      for (int i = 0; i < n; ++i) {
        if (d_[p + i] & 0x80) {
          warn(p + i, track, fmt::format("expected a data byte, found status byte {:#04x}; event dropped", d_[p + i]));
          p += i;
          ok = false;
          resume_at_status = true;
          break;
        }
      }
      if (!ok) continue;
      e.data1 = d_[p];
      if (n == 2) e.data2 = d_[p + 1];
      p += n;
      t.events.push_back(std::move(e));
    }
    if (across_meta > 0) {
      warn(across_meta_first, track,
           fmt::format("running status used across a meta or sysex event ({} times); kept", across_meta));
    }
    if (!seen_eot) warn(end, track, "missing end-of-track event");
    return t;
  }

  const std::uint8_t* d_;
  std::size_t size_;
  const ReadOptions& opt_;
  std::vector<Diagnostic>* diags_;
};

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

}  // namespace

MidiFile read_midi(const std::uint8_t* data, std::size_t size, const ReadOptions& options,
                   std::vector<Diagnostic>* diagnostics) {
  return Reader(data, size, options, diagnostics).read();
}

MidiFile read_midi_file(const std::string& path, bool strict, std::vector<Diagnostic>* diagnostics) {
  std::vector<std::uint8_t> bytes = read_file_bytes(path);
  ReadOptions options;
  options.strict = strict;
  options.path = path;
  return read_midi(bytes, options, diagnostics);
}

void write_vlq(std::vector<std::uint8_t>& out, std::uint32_t value) {
  if (value > 0x0FFFFFFF) throw Error(fmt::format("variable-length quantity {} exceeds 0x0FFFFFFF", value));
  std::uint8_t buf[4];
  int n = 0;
  buf[n++] = static_cast<std::uint8_t>(value & 0x7F);
  while (value >>= 7) buf[n++] = static_cast<std::uint8_t>((value & 0x7F) | 0x80);
  while (n > 0) out.push_back(buf[--n]);
}

std::vector<std::uint8_t> write_midi(const MidiFile& file) {
  if (file.format == 0 && file.tracks.size() != 1) {
    throw Error(fmt::format("format 0 needs exactly one track, got {}", file.tracks.size()));
  }
  if (file.tracks.size() > 0xFFFF) throw Error("too many tracks for a MIDI file");
  std::vector<std::uint8_t> out;
  out.insert(out.end(), {'M', 'T', 'h', 'd'});
  put_u32(out, 6);
  put_u16(out, static_cast<std::uint16_t>(file.format));
  put_u16(out, static_cast<std::uint16_t>(file.tracks.size()));
  put_u16(out, file.division.raw());
  std::vector<std::uint8_t> body;
  for (std::size_t ti = 0; ti < file.tracks.size(); ++ti) {
    body.clear();
    std::uint64_t last = 0;
    std::uint8_t running = 0;
    const auto& events = file.tracks[ti].events;
    for (const Event& e : events) {
      if (e.tick < last) throw Error(fmt::format("track {}: event ticks decrease ({} after {})", ti, e.tick, last));
      if (e.is_meta() && e.meta_type == kMetaEndOfTrack) continue;  // written once, at the end
      std::uint64_t delta = e.tick - last;
      if (delta > 0x0FFFFFFF) throw Error(fmt::format("track {}: delta time {} too large", ti, delta));
      write_vlq(body, static_cast<std::uint32_t>(delta));
      last = e.tick;
      if (e.is_channel()) {
        if (e.status != running) body.push_back(e.status);
        running = e.status;
        body.push_back(e.data1 & 0x7F);
        if (data_bytes(e.status) == 2) body.push_back(e.data2 & 0x7F);
      } else if (e.is_meta() || e.is_sysex()) {
        body.push_back(e.status);
        if (e.is_meta()) body.push_back(e.meta_type);
        write_vlq(body, static_cast<std::uint32_t>(e.payload.size()));
        body.insert(body.end(), e.payload.begin(), e.payload.end());
        running = 0;  // meta and sysex cancel running status
      } else {
        throw Error(fmt::format("track {}: cannot write event with status {:#04x}", ti, e.status));
      }
    }
    std::uint64_t eot_tick = last;
    if (!events.empty() && events.back().is_meta() && events.back().meta_type == kMetaEndOfTrack) {
      eot_tick = std::max(last, events.back().tick);
    }
    write_vlq(body, static_cast<std::uint32_t>(eot_tick - last));
    body.insert(body.end(), {0xFF, 0x2F, 0x00});
    out.insert(out.end(), {'M', 'T', 'r', 'k'});
    put_u32(out, static_cast<std::uint32_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

Event make_channel(std::uint64_t tick, std::uint8_t kind, int channel, int data1, int data2) {
  Event e;
  e.tick = tick;
  e.status = static_cast<std::uint8_t>((kind & 0xF0) | (channel & 0x0F));
  e.data1 = static_cast<std::uint8_t>(data1 & 0x7F);
  e.data2 = static_cast<std::uint8_t>(data2 & 0x7F);
  return e;
}

Event make_meta(std::uint64_t tick, std::uint8_t type, std::vector<std::uint8_t> payload) {
  Event e;
  e.tick = tick;
  e.status = 0xFF;
  e.meta_type = type;
  e.payload = std::move(payload);
  return e;
}

Event make_tempo(std::uint64_t tick, std::uint32_t us_per_quarter) {
  return make_meta(tick, kMetaTempo,
                   {static_cast<std::uint8_t>(us_per_quarter >> 16), static_cast<std::uint8_t>(us_per_quarter >> 8),
                    static_cast<std::uint8_t>(us_per_quarter)});
}

Event make_time_signature(std::uint64_t tick, int numerator, int denominator) {
  std::uint8_t exp = 0;
  while ((1 << exp) < denominator && exp < 6) ++exp;
  return make_meta(tick, kMetaTimeSignature, {static_cast<std::uint8_t>(numerator), exp, 24, 8});
}

Event make_text(std::uint64_t tick, std::uint8_t type, const std::string& text) {
  return make_meta(tick, type, std::vector<std::uint8_t>(text.begin(), text.end()));
}

}  // namespace arioso::midi
