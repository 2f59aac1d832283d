// WAV rendering with FluidSynth's library: the score is written as a MIDI file in memory,
// played by fluid_player into the synthesizer, and the samples written as 16-bit PCM.
#include <fluidsynth.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "midi/midi_file.h"
#include "render/render.h"

namespace arioso::render {

std::string find_soundfont() {
  const char* candidates[] = {"/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                              "/usr/share/sounds/sf3/default-GM.sf3", "/usr/share/sounds/sf2/default-GM.sf2"};
  for (const char* c : candidates) {
    if (std::filesystem::exists(c)) return c;
  }
  return "";
}

std::size_t write_wav(const std::string& path, const music::Score& score, const std::string& soundfont, int sample_rate) {
  if (soundfont.empty()) throw Error("no soundfont found (install timgm6mb-soundfont or pass --soundfont FILE)");
  if (!std::filesystem::exists(soundfont)) throw Error(fmt::format("{}: soundfont not found", soundfont));
  std::vector<std::uint8_t> midi_bytes = midi::write_midi(music::score_to_midi(score));
  fluid_set_log_function(FLUID_PANIC, nullptr, nullptr);
  fluid_set_log_function(FLUID_ERR, nullptr, nullptr);
  fluid_set_log_function(FLUID_WARN, nullptr, nullptr);
  fluid_set_log_function(FLUID_INFO, nullptr, nullptr);
  fluid_set_log_function(FLUID_DBG, nullptr, nullptr);
  fluid_settings_t* settings = new_fluid_settings();
  fluid_settings_setnum(settings, "synth.sample-rate", sample_rate);
  fluid_settings_setint(settings, "synth.threadsafe-api", 0);
  fluid_settings_setstr(settings, "player.timing-source", "sample");
  // FluidSynth's default gain (0.2) peaks near -18 dBFS on a piano piece; 0.6 is at about -9.
  fluid_settings_setnum(settings, "synth.gain", 0.6);
  fluid_synth_t* synth = new_fluid_synth(settings);
  if (fluid_synth_sfload(synth, soundfont.c_str(), 1) == FLUID_FAILED) {
    delete_fluid_synth(synth);
    delete_fluid_settings(settings);
    throw Error(fmt::format("{}: FluidSynth cannot load this soundfont", soundfont));
  }
  fluid_player_t* player = new_fluid_player(synth);
  fluid_player_add_mem(player, midi_bytes.data(), midi_bytes.size());
  fluid_player_play(player);
  // The length is the music's, from the tempo map, plus a one-second release tail.
  double seconds = score.seconds(score.end_tick()) + 1.0;
  auto frames = static_cast<std::size_t>(seconds * sample_rate);
  std::vector<std::int16_t> pcm(frames * 2);
  const std::size_t kBlock = 512;
  for (std::size_t done = 0; done < frames; done += kBlock) {
    int n = static_cast<int>(std::min(kBlock, frames - done));
    fluid_synth_write_s16(synth, n, pcm.data() + 2 * done, 0, 2, pcm.data() + 2 * done, 1, 2);
  }
  fluid_player_stop(player);
  delete_fluid_player(player);
  delete_fluid_synth(synth);
  delete_fluid_settings(settings);
  std::vector<std::uint8_t> out;
  auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); };
  auto u16 = [&](std::uint16_t v) { out.push_back(static_cast<std::uint8_t>(v)); out.push_back(static_cast<std::uint8_t>(v >> 8)); };
  std::uint32_t data_bytes = static_cast<std::uint32_t>(pcm.size() * 2);
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  u32(36 + data_bytes);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  u32(16);
  u16(1);  // PCM
  u16(2);  // stereo
  u32(static_cast<std::uint32_t>(sample_rate));
  u32(static_cast<std::uint32_t>(sample_rate) * 4);
  u16(4);
  u16(16);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  u32(data_bytes);
  const auto* p = reinterpret_cast<const std::uint8_t*>(pcm.data());
  out.insert(out.end(), p, p + data_bytes);  // little-endian host
  write_file_atomic(path, out);
  return frames;
}

}  // namespace arioso::render
