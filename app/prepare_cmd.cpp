// `arioso prepare INPUT... -o CORPUS`: a folder of MIDI files becomes one corpus file.
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "data/prepare.h"

namespace arioso::app {

Runner add_prepare(CLI::App& app) {
  struct Opt {
    std::vector<std::string> inputs;
    std::string output, tokenizer = "remi", compat = "none", parts;
    double valid = 0.1, test = 0.0;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = app.add_subcommand("prepare", "Turn MIDI files and folders into a training corpus");
  cmd->add_option("inputs", o->inputs, "MIDI files or folders (searched recursively)")->required();
  cmd->add_option("-o,--output", o->output, "corpus file to write")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "remi (default: rhythm, compact notes, key tokens, every instrument and the drums, Repeat_k for a bar that is an earlier bar again), remi-no-repeats (the same with every bar written out), remi-merged (pitched parts merged into one, no drums, no Repeat), remi-plain (every note's velocity and duration, no keys, merged) or classic (the tutorial's)")->check(CLI::IsMember({"remi", "remi-no-repeats", "remi-merged", "remi-plain", "classic"}));
  cmd->add_option("--compat", o->compat, "classic only: 'music21' reproduces music21 5.x exactly")->check(CLI::IsMember({"none", "music21"}));
  cmd->add_option("--parts", o->parts, "all (pitched and drums, each as its instrument: remi's default) | pitched (the others' default) | first | programs=0-7,40 | tracks=1,3");
  cmd->add_option("--valid-fraction", o->valid, "share of pieces held out for validation")->capture_default_str();
  cmd->add_option("--test-fraction", o->test, "share of pieces held out for testing")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  return [o]() {
    data::PrepareOptions po;
    po.tokenizer = music::tokenizer_named(o->tokenizer);
    po.tokenizer.compat_music21 = o->compat == "music21";
    if (!o->parts.empty()) po.tokenizer.parts = o->parts;
    po.tokenizer.validate();
    po.valid_fraction = o->valid;
    po.test_fraction = o->test;
    ProgressBar bar;
    auto r = data::prepare_corpus(o->inputs, po, [&](const Progress& p) { bar(p); });
    data::write_corpus(o->output, r.corpus);
    const auto& c = r.corpus;
    std::size_t tokens = c.token_count(data::Split::kTrain) + c.token_count(data::Split::kValid) + c.token_count(data::Split::kTest);
    if (o->json) {
      nlohmann::json skipped = nlohmann::json::array();
      for (const auto& s : r.skipped) skipped.push_back({{"file", s.file}, {"error", s.error}});
      nlohmann::json repaired = nlohmann::json::array();
      for (const auto& s : r.repairs) repaired.push_back({{"file", s.file}, {"repair", s.error}});
      nlohmann::json j{{"files_read", r.files_read},
                       {"files_skipped", skipped},
                       {"files_repaired", repaired},
                       {"pieces", {{"train", c.piece_count(data::Split::kTrain)}, {"valid", c.piece_count(data::Split::kValid)}, {"test", c.piece_count(data::Split::kTest)}}},
                       {"tokens", tokens},
                       {"vocab_size", c.vocab.size()},
                       {"minutes", r.minutes},
                       {"output", o->output}};
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return 0;
    }
    fmt::print("wrote {}\n", o->output);
    fmt::print("  files: {} found, {} read, {} skipped\n", r.files_found, r.files_read, r.skipped.size());
    for (const auto& s : r.skipped) fmt::print("    skipped {}: {}\n", s.file, s.error);
    for (const auto& s : r.repairs) fmt::print("    repaired {}\n", s.error);
    fmt::print("  pieces: {} train, {} valid, {} test\n", c.piece_count(data::Split::kTrain), c.piece_count(data::Split::kValid),
               c.piece_count(data::Split::kTest));
    fmt::print("  tokens: {} ({} train, {} valid, {} test)\n", tokens, c.token_count(data::Split::kTrain),
               c.token_count(data::Split::kValid), c.token_count(data::Split::kTest));
    fmt::print("  vocabulary: {} tokens ({} tokenizer)\n", c.vocab.size(), c.tokenizer.name);
    fmt::print("  music: {:.1f} minutes\n", r.minutes);
    std::vector<std::size_t> counts(static_cast<std::size_t>(c.vocab.size()), 0);
    for (const auto& p : c.pieces) for (auto t : p.tokens) ++counts[t];
    std::vector<int> order(counts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::partial_sort(order.begin(), order.begin() + std::min<std::size_t>(10, order.size()), order.end(),
                      [&](int a, int b) { return counts[static_cast<std::size_t>(a)] > counts[static_cast<std::size_t>(b)]; });
    fmt::print("  most frequent:");
    for (std::size_t i = 0; i < std::min<std::size_t>(10, order.size()); ++i) {
      fmt::print(" {} ({:.1f}%)", c.vocab.token(order[i]), 100.0 * static_cast<double>(counts[static_cast<std::size_t>(order[i])]) / static_cast<double>(std::max<std::size_t>(tokens, 1)));
    }
    fmt::print("\n");
    return 0;
  };
}

}  // namespace arioso::app
