// `arioso analyze FILES_OR_DIRS... [--against DIR|CORPUS] [--json] [--png FILE] [--ssm-png FILE]`: how musical
// and how original pieces are, alone or beside a reference set.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "app/commands.h"
#include "eval/analyze.h"
#include "render/chart.h"

namespace arioso::app {

Runner add_analyze(CLI::App& app) {
  struct Opt {
    std::vector<std::string> inputs;
    std::string against, png, ssm_png;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = app.add_subcommand("analyze", "Musical metrics (MusPy's) and originality of MIDI files, against a reference set");
  cmd->add_option("inputs", o->inputs, "MIDI files or folders")->required();
  cmd->add_option("--against", o->against, "reference: a folder of MIDI files or a corpus from 'arioso prepare'");
  cmd->add_flag("--json", o->json, "Print the report as JSON (schema in the README)");
  cmd->add_option("--png", o->png, "Write a picture comparing the pieces with the reference");
  cmd->add_option("--ssm-png", o->ssm_png, "Write bar-by-bar self-similarity pictures of the first pieces (and of the reference's)");
  return [o]() {
    eval::PieceSet gen = eval::load_midi_set(o->inputs);
    eval::PieceSet ref;
    bool has_ref = !o->against.empty();
    if (has_ref) {
      ref = std::filesystem::is_directory(o->against) ? eval::load_midi_set({o->against}) : eval::load_corpus_set(o->against);
    }
    auto report = eval::analyze(gen, has_ref ? &ref : nullptr);
    if (!o->png.empty()) render::write_analysis_png(o->png, gen, has_ref ? &ref : nullptr);
    if (!o->ssm_png.empty()) render::write_self_similarity_png(o->ssm_png, gen, has_ref ? &ref : nullptr);
    if (o->json) {
      fmt::print("{}\n", report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      auto show = [](const nlohmann::json& s) {
        return s["mean"].is_null() ? std::string("-") : fmt::format("{:.3f} ± {:.3f}", s["mean"].get<double>(), s["std"].get<double>());
      };
      fmt::print("{} pieces{}\n", gen.pieces.size(), has_ref ? fmt::format(", reference {} pieces", ref.pieces.size()) : "");
      fmt::print("{:<26} {:>20}{}\n", "metric", "pieces", has_ref ? fmt::format(" {:>20} {:>8}", "reference", "overlap") : "");
      for (const auto& name : eval::metric_names()) {
        fmt::print("{:<26} {:>20}", name, show(report["generated"][name]));
        if (has_ref) {
          const auto& ov = report["overlap"][name];
          fmt::print(" {:>20} {:>8}", show(report["reference"][name]), ov.is_null() ? "-" : fmt::format("{:.3f}", ov.get<double>()));
        }
        fmt::print("\n");
      }
      fmt::print("parts (notes, share, range, notes per beat, polyphony or groove{}):\n", has_ref ? ", notes in the reference's usual range" : "");
      for (const auto& p : report["pieces"]) {
        fmt::print("  {}:\n", p["file"].get<std::string>());
        for (const auto& part : p["parts"]) {
          const bool drums = part["instrument"].get<int>() == 128;
          const auto& extra = drums ? part["groove_consistency"] : part["polyphony"];
          fmt::print("    {:<26} {:>5} notes {:>4.0f}%  {:>3}-{:<3}  {:.2f}/beat  {} {}{}\n", part["name"].get<std::string>(),
                     part["notes"].get<std::size_t>(), 100 * part["share"].get<double>(), part["lowest"].get<int>(), part["highest"].get<int>(),
                     part["notes_per_beat"].is_null() ? 0.0 : part["notes_per_beat"].get<double>(), drums ? "groove" : "polyphony",
                     extra.is_null() ? std::string("-") : fmt::format("{:.2f}", extra.get<double>()),
                     part.contains("in_usual_range") ? fmt::format("  in range {:.0f}%", 100 * part["in_usual_range"].get<double>()) : "");
        }
      }
      if (has_ref) {
        fmt::print("originality:\n");
        for (const auto& p : report["pieces"]) {
          const auto& og = p["originality"];
          fmt::print("  {}: longest copy {} onsets ({:.1f} s){}; novel 4/8/16-grams {:.0f}% / {:.0f}% / {:.0f}%\n",
                     p["file"].get<std::string>(), og["longest_copy_onsets"].get<std::size_t>(),
                     og["longest_copy_seconds"].get<double>(),
                     og["longest_copy_from"].is_null() ? "" : " from " + og["longest_copy_from"].get<std::string>(),
                     100 * og["novel_4gram_share"].get<double>(), 100 * og["novel_8gram_share"].get<double>(),
                     100 * og["novel_16gram_share"].get<double>());
        }
      }
      for (const auto& s : report["skipped"]) fmt::print(stderr, "skipped {}: {}\n", s["file"].get<std::string>(), s["error"].get<std::string>());
    }
    if (!o->png.empty() && !o->json) fmt::print("wrote {}\n", o->png);
    if (!o->ssm_png.empty() && !o->json) fmt::print("wrote {}\n", o->ssm_png);
    return 0;
  };
}

}  // namespace arioso::app
