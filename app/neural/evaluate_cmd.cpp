// `arioso evaluate RUN --midi DIR | --corpus CORPUS`: the likelihood of held-out music (eval/likelihood.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "app/neural/neural.h"
#include "app/progress_bar.h"
#include "core/error.h"
#include "core/files.h"
#include "data/prepare.h"
#include "data/run_folder.h"
#include "eval/analyze.h"
#include "eval/likelihood.h"
#include "midi/midi_file.h"
#include "model/checkpoint.h"
#include "render/chart.h"
#include "render/render.h"
#include "serve/server.h"

namespace fs = std::filesystem;

namespace arioso::neural_app {
int cmd_evaluate(int argc, char** argv) {
  CLI::App app{"arioso evaluate RUN_DIR --midi DIR | --corpus CORPUS"};
  std::string run, midi_dir, corpus_path, split = "valid", device_name = "cpu";
  bool json = false;
  app.add_option("--device", device_name, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("run", run)->required();
  app.add_option("--midi", midi_dir, "MIDI files or folder to score");
  app.add_option("--corpus", corpus_path, "a corpus to score");
  app.add_option("--split", split, "valid, test or all")->check(CLI::IsMember({"valid", "test", "train", "all"}));
  app.add_flag("--json", json);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (midi_dir.empty() == corpus_path.empty()) {
    fmt::print(stderr, "arioso evaluate: give exactly one of --midi or --corpus\n");
    return 2;
  }
  const std::string ckpt = data::RunFolder{run}.checkpoint();
  if (ckpt.empty()) throw Error(fmt::format("{}: no trained model (best.pt or last.pt); run 'arioso train' first", run));
  model::CheckpointMeta meta;
  if (device_name == "cuda" && !torch::cuda::is_available()) throw ConfigError("--device cuda: this libtorch has no CUDA or no GPU is visible");
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  auto m = model::load_checkpoint(ckpt, &meta);
  model::use_threads(0);
  model::keep_freed_memory();
  m->to(device);
  m->eval();
  auto tok = music::TokenizerConfig::from_json(meta.tokenizer);
  music::Vocab vocab(meta.vocab);
  struct Item { std::string file; std::vector<std::uint16_t> ids; music::Score decoded; };
  std::vector<Item> items;
  nlohmann::json skipped = nlohmann::json::array();
  if (!midi_dir.empty()) {
    for (const auto& f : find_midi_files({midi_dir})) {
      try {
        auto file = midi::read_midi_file(f);
        auto tokens = music::tokenize(file, tok);
        Item it{f, {}, {}};
        for (const auto& t : tokens) {
          auto id = vocab.find(t);
          if (!id) throw Error(fmt::format("token '{}' is not in the run's vocabulary", t));
          it.ids.push_back(static_cast<std::uint16_t>(*id));
        }
        it.decoded = music::detokenize(tokens, tok);
        items.push_back(std::move(it));
      } catch (const Error& e) {
        skipped.push_back({{"file", f}, {"error", e.what()}});
      }
    }
  } else {
    auto c = data::read_corpus(corpus_path);
    if (c.vocab.hash() != meta.vocab_hash) {
      throw FormatError(fmt::format("{}: vocabulary ({} tokens) does not match corpus {} ({} tokens)", ckpt, meta.vocab.size(), corpus_path, c.vocab.size()));
    }
    for (const auto& p : c.pieces) {
      if (split != "all" && split != data::split_name(p.split)) continue;
      std::vector<std::string> tokens;
      for (auto t : p.tokens) tokens.push_back(c.vocab.token(t));
      items.push_back({p.source, p.tokens, music::detokenize(tokens, tok)});
    }
  }
  std::vector<const std::vector<std::uint16_t>*> seqs;
  for (const auto& it : items) seqs.push_back(&it.ids);
  auto scores = train::score_sequences(*m, seqs, device, /*keep_tokens=*/true);
  const auto kinds = music::token_kinds(meta.vocab, tok);
  std::vector<bool> drum_ids(meta.vocab.size());
  for (std::size_t id = 0; id < meta.vocab.size(); ++id) drum_ids[id] = meta.vocab[id].rfind("Drum_", 0) == 0;
  nlohmann::json pieces = nlohmann::json::array();
  eval::Likelihood total;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto l = eval::piece_likelihood(items[i].file, items[i].ids, scores[i].token_nll, scores[i].token_right, kinds, items[i].decoded, drum_ids);
    total.merge(l);
    pieces.push_back(l.to_json());
  }
  nlohmann::json out{{"pieces", pieces}, {"total", total.to_json()}, {"skipped", skipped}};
  out["total"].erase("file");
  out["total"]["pieces"] = pieces.size();
  if (json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
    for (const auto& p : pieces) {
      fmt::print("{}: {} tokens, {} notes; NLL/token {:.4f}, /note {:.3f}, /beat {:.3f}, /second {:.3f}; acc {:.1f}%\n",
                 p["file"].get<std::string>(), p["tokens"].get<long>(), p["notes"].get<long>(), num(p["nll_per_token"]), num(p["nll_per_note"]),
                 num(p["nll_per_beat"]), num(p["nll_per_second"]), 100 * num(p["accuracy"]));
    }
    const auto& t = out["total"];
    fmt::print("total: {} pieces, {} tokens, {} notes; NLL/token {:.4f} (perplexity {:.2f}), /note {:.3f}, /beat {:.3f}, /second {:.3f}; accuracy {:.1f}%\n",
               pieces.size(), t["tokens"].get<long>(), t["notes"].get<long>(), num(t["nll_per_token"]), num(t["perplexity"]),
               num(t["nll_per_note"]), num(t["nll_per_beat"]), num(t["nll_per_second"]), 100 * num(t["accuracy"]));
    std::string split_line;
    for (const auto& [kind, v] : t["by_kind"].items()) {
      split_line += fmt::format("  {} {:.3f}/note ({:.0f}%)", kind, num(v["nll_per_note"]), 100 * num(v["share"]));
    }
    if (!split_line.empty()) fmt::print("by kind (nats per note, share of the loss):{}\n", split_line);
    if (t.contains("drums")) {
      fmt::print("pitched parts: {} notes, {:.3f} nats/note; drums: {} notes, {:.3f} nats/note\n", t["pitched"]["notes"].get<long>(),
                 num(t["pitched"]["nll_per_note"]), t["drums"]["notes"].get<long>(), num(t["drums"]["nll_per_note"]));
    }
    for (const auto& s : skipped) fmt::print(stderr, "skipped {}: {}\n", s["file"].get<std::string>(), s["error"].get<std::string>());
  }
  return 0;
}

}  // namespace arioso::neural_app
