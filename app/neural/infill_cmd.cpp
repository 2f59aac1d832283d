// `arioso infill SONG.mid --bars 9-16` and `arioso accompany MELODY.mid --add "bass,drums"`:
// new material for the user's own music (generate/infill.h); the song's notes stay as they are.
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "app/neural/neural.h"
#include "core/error.h"
#include "core/files.h"
#include "midi/midi_file.h"
#include "model/model.h"
#include "music/instruments.h"
#include "render/render.h"

namespace fs = std::filesystem;

namespace arioso::neural_app {
namespace {

struct InfillCli {
  std::string song, run, out, bars, instruments, soundfont, device = "cpu";
  bool wav = false, png = false, json = false;
  generate::InfillOptions o;
};

void add_common(CLI::App& app, InfillCli& c) {
  app.add_option("--run", c.run, "run folder from 'arioso train' (default: the newest under runs/, else the demo's)");
  app.add_option("-o,--output", c.out, "MIDI file to write (default: SONG-infill.mid or SONG-accompanied.mid here)");
  app.add_option("--temperature", c.o.temperature, "sampling temperature")->capture_default_str();
  app.add_option("--top-k", c.o.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  app.add_option("--top-p", c.o.top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  app.add_flag("--greedy", c.o.greedy, "always take the most likely token");
  app.add_option("--seed", c.o.seed, "random seed: same seed, same music")->capture_default_str();
  app.add_option("--max-copy", c.o.max_copy, "never more than K consecutive onsets of new material from one training piece (0 = off)")->capture_default_str();
  app.add_option("--chunk-bars", c.o.chunk_bars, "bars composed per step, 1-4 (default: by the run's window)")->check(CLI::Range(0, 4));
  app.add_flag("--wav", c.wav, "also write audio (FluidSynth)");
  app.add_flag("--png", c.png, "also write a piano-roll picture");
  app.add_option("--soundfont", c.soundfont, "General MIDI soundfont (default: the one Debian installs)");
  app.add_flag("--json", c.json, "print the summary as JSON");
  app.add_flag("--score", c.o.score, "with --json: also how the new bars fit (NLL per note of the new and of the song's own bars given the same context, notes per bar, share in the key of the bars around)");
  app.add_option("--device", c.device, "cpu or cuda")->capture_default_str();
}

int run(InfillCli& c, const char* command, const char* suffix) {
  if (c.run.empty()) c.run = latest_run();
  if (c.run.empty()) {
    fmt::print(stderr, "arioso {}: give a run folder with --run (from 'arioso train'); none found under runs/ or arioso-demo/\n", command);
    return 2;
  }
  if (c.out.empty()) c.out = fs::path(c.song).stem().string() + suffix + ".mid";
  const music::Score song = music::score_from_midi(midi::read_midi_file(c.song));
  generate::Generator gen(c.run, c.device);
  model::use_threads(0);
  const auto t0 = std::chrono::steady_clock::now();
  generate::InfillResult r = gen.infill(song, c.o);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_file_atomic(c.out, midi::write_midi(music::score_to_midi(r.score)));
  const std::string base = (fs::path(c.out).parent_path() / fs::path(c.out).stem()).string();
  const auto seams = generate::check_seams(r.added, r.score.notes, r.end_tick);
  std::vector<std::string> names;
  for (int i : r.instruments) names.push_back(music::instrument_name(i));
  nlohmann::json j{{"midi", c.out}, {"run", c.run}, {"bars", {r.first_bar + 1, r.end_bar}}, {"instruments", names},
                   {"notes_added", r.added.size()}, {"notes_kept", r.kept}, {"notes_replaced", r.replaced},
                   {"steps", r.chunks}, {"resampled_for_gate", r.retries}, {"dropped_at_seams", r.dropped_at_seams},
                   {"hanging_notes", seams.hanging}, {"doubled_notes", seams.doubled},
                   {"longest_copy_onsets", r.copy.longest_onsets}, {"longest_copy_from", r.copy_source}, {"seconds_taken", took}};
  if (c.o.score) {
    const auto m = generate::measure_fill(song, r);
    auto per_note = [](double nll, std::size_t notes) { return notes ? nll / static_cast<double>(notes) : 0.0; };
    j["fit"] = {{"nll_per_note_new", per_note(r.nll_new, r.notes_new)}, {"nll_per_note_original", per_note(r.nll_original, r.notes_original)},
                {"notes_new", r.notes_new}, {"notes_original", r.notes_original},
                {"notes_per_bar_new", m.notes_per_bar_new}, {"notes_per_bar_original", m.notes_per_bar_original},
                {"notes_per_bar_around", m.notes_per_bar_around}, {"in_key_new", m.in_key_new},
                {"in_key_original", m.in_key_original}, {"in_key_around", m.in_key_around}, {"key_around", m.key_around}};
  }
  if (c.wav) {
    render::write_wav(base + ".wav", r.score, c.soundfont.empty() ? render::find_soundfont() : c.soundfont);
    j["wav"] = base + ".wav";
  }
  if (c.png) {
    render::write_piano_roll_png(base + ".png", r.score, 0, 1200, 480, c.o.add ? 0 : r.start_tick, c.o.add ? 0 : r.end_tick);
    j["png"] = base + ".png";
  }
  if (c.json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{}: bars {}-{} {} {} ({} new notes; {} of the song's kept as they were{}); longest copy {} onsets{}; {:.2f} s\n", c.out,
             r.first_bar + 1, r.end_bar, c.o.add ? "with" : "filled for", names.empty() ? "no part (the model left them silent)" : fmt::format("{}", fmt::join(names, ", ")),
             r.added.size(), r.kept, r.replaced ? fmt::format(", {} replaced", r.replaced) : "", r.copy.longest_onsets,
             r.copy_source.empty() ? "" : " from " + r.copy_source, took);
  return 0;
}

}  // namespace

int cmd_infill(int argc, char** argv) {
  CLI::App app{"arioso infill SONG.mid --bars FIRST-LAST [--instruments LIST] [-o OUT.mid]: compose those bars anew with the music around them as context; the rest stays note for note"};
  InfillCli c;
  app.add_option("song", c.song, "MIDI file")->required();
  app.add_option("--bars", c.bars, "bars to fill, 1-based and inclusive: 9-16, or 9")->required();
  app.add_option("--instruments", c.instruments, "fill only these parts, e.g. \"bass,drums\" (General MIDI names, families, program numbers; default: every part)");
  add_common(app, c);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::tie(c.o.first_bar, c.o.end_bar) = generate::parse_bars(c.bars);
  if (!c.instruments.empty()) c.o.instruments = music::parse_instruments(c.instruments);
  return run(c, "infill", "-infill");
}

int cmd_accompany(int argc, char** argv) {
  CLI::App app{"arioso accompany MELODY.mid --add LIST [-o OUT.mid]: write new parts around the given ones, which stay exactly as they are"};
  InfillCli c;
  app.add_option("song", c.song, "MIDI file")->required();
  app.add_option("--add", c.instruments, "parts to add, e.g. \"bass,piano,drums\" (General MIDI names, families, program numbers)")->required();
  add_common(app, c);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  c.o.add = true;
  c.o.instruments = music::parse_instruments(c.instruments);
  return run(c, "accompany", "-accompanied");
}

}  // namespace arioso::neural_app
