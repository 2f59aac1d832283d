// libFuzzer target for the SMF reader: any bytes must give a MidiFile or an arioso::Error,
// never a crash or an unbounded allocation; what was read must also write and derive notes.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "midi/midi_file.h"
#include "midi/notes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (bool strict : {false, true}) {
    try {
      arioso::midi::ReadOptions o;
      o.strict = strict;
      std::vector<arioso::midi::Diagnostic> diags;
      auto f = arioso::midi::read_midi(data, size, o, &diags);
      auto notes = arioso::midi::extract_notes(f);
      arioso::midi::TempoMap tempo(f);
      (void)tempo.seconds(arioso::midi::length_ticks(f));
      if (f.format == 0 && f.tracks.size() != 1) f.format = 1;
      auto bytes = arioso::midi::write_midi(f);
      auto g = arioso::midi::read_midi(bytes);
      (void)g;
    } catch (const arioso::Error&) {
    }
  }
  return 0;
}
