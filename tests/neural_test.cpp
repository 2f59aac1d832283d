// Models, checkpoints, training and generation on tiny models: save/load gives identical
// logits, one batch can be overfit, a mismatched or foreign checkpoint is refused, the same
// seed gives the same pieces, top-k 1 equals greedy, a key is honoured on every note, every
// sampled piece decodes and reads back, and the originality gate holds on a memorised corpus.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "data/prepare.h"
#include "generate/generate.h"
#include "generate/sampler.h"
#include "eval/originality.h"
#include "render/render.h"
#include "midi/midi_file.h"
#include "model/checkpoint.h"
#include "model/lstm_layer.h"
#include "model/model.h"
#include "train/train.h"
#include "test_util.h"
#include "tunes.h"

using namespace arioso;
using namespace arioso::test;

namespace {

/// A small corpus of scale-like pieces written to `dir`.
std::string make_corpus(const std::string& dir, int pieces, int notes, double valid_fraction = 0.1) {
  std::filesystem::create_directories(dir + "/midi");
  for (int p = 0; p < pieces; ++p) {
    music::Score s;
    s.ticks_per_quarter = 480;
    for (int i = 0; i < notes; ++i) {
      music::Note n;
      n.start_tick = static_cast<std::uint64_t>(i) * 240;
      n.end_tick = n.start_tick + 240;
      n.pitch = 60 + 2 * ((i + 3 * p) % (6 + p));  // short rising figures: easy to memorise
      n.velocity = 80;
      s.notes.push_back(n);
    }
    write_file_atomic(dir + "/midi/p" + std::to_string(p) + ".mid", midi::write_midi(music::score_to_midi(s)));
  }
  data::PrepareOptions po;
  po.valid_fraction = valid_fraction;
  auto r = data::prepare_corpus({dir + "/midi"}, po);
  data::write_corpus(dir + "/c.corpus", r.corpus);
  return dir + "/c.corpus";
}

/// A corpus (default tokenizer, nothing held out) of `pieces` band tunes of `notes` eighth notes
/// (tune, bass, drums) written to `dir`; with `flutes`, every other tune is on a flute.
std::string band_corpus(const std::string& dir, int pieces, int notes, bool flutes) {
  std::filesystem::create_directories(dir + "/midi");
  for (int p = 0; p < pieces; ++p) {
    write_file_atomic(dir + "/midi/band" + std::to_string(p) + ".mid", band_tune_midi(p + 3, notes, flutes && p % 2 == 0 ? 73 : 0));
  }
  data::PrepareOptions po;
  po.tokenizer = music::tokenizer_named("remi");
  po.valid_fraction = 0;
  data::write_corpus(dir + "/c.corpus", data::prepare_corpus({dir + "/midi"}, po).corpus);
  return dir + "/c.corpus";
}

/// Training options for a tiny, fast, single-thread run.
train::TrainOptions tiny_run(const std::string& corpus, const std::string& run_dir, int epochs, int window, double lr) {
  train::TrainOptions o;
  o.corpus = corpus;
  o.run_dir = run_dir;
  o.preset = "tiny";
  o.epochs = epochs;
  o.window = window;
  o.batch_size = 4;
  o.lr = lr;
  o.threads = 1;
  return o;
}

}  // namespace

TEST(Model, SaveLoadGivesIdenticalLogits) {
  std::string dir = temp_dir("ckpt");
  for (std::string arch : {"lstm", "lstm-3-layers", "transformer"}) {
    torch::manual_seed(3);
    auto cfg = model::ModelConfig::preset_for(arch == "transformer" ? "transformer" : "lstm", "tiny", 50);
    if (arch == "lstm-3-layers") cfg.layers = 3;  // the stacked path of the one-step fast path
    auto m = model::make_model(cfg);
    m->eval();
    auto x = torch::randint(0, 50, {2, 16}, torch::kLong);
    auto a = m->forward(x, nullptr);
    model::CheckpointMeta meta;
    meta.model = cfg;
    meta.tokenizer = music::TokenizerConfig{}.to_json();
    model::save_checkpoint(dir + "/m.pt", meta, *m, nullptr);
    model::CheckpointMeta back;
    auto n = model::load_checkpoint(dir + "/m.pt", &back);
    n->eval();
    EXPECT_TRUE(torch::equal(a, n->forward(x, nullptr))) << arch;
    // Incremental decoding equals the full forward pass.
    model::State st;
    auto first = n->forward(x.slice(1, 0, 10), &st);
    auto rest = n->forward(x.slice(1, 10, 16), &st);
    EXPECT_TRUE(torch::allclose(torch::cat({first, rest}, 1), a, 1e-5, 1e-5)) << arch;
    // One token at a time without gradients (the generation fast path) too.
    torch::NoGradGuard ng;
    model::State one;
    std::vector<torch::Tensor> steps;
    for (int t = 0; t < 16; ++t) steps.push_back(n->forward(x.slice(1, t, t + 1), &one));
    EXPECT_TRUE(torch::allclose(torch::cat(steps, 1), a, 1e-5, 1e-5)) << arch;
    if (arch != "transformer") {
      // bfloat16 steps (generate --precision bf16): close to float, and really not float.
      constexpr double kBf16LogitTol = 0.05;  // 8-bit mantissas: ~4e-3 relative per weight
      n->set_step_precision(torch::kBFloat16);
      model::State low;
      std::vector<torch::Tensor> lsteps;
      for (int t = 0; t < 16; ++t) lsteps.push_back(n->forward(x.slice(1, t, t + 1), &low));
      double diff = (torch::cat(lsteps, 1) - a).abs().max().item<double>();
      EXPECT_LT(diff, kBf16LogitTol) << arch;
      EXPECT_GT(diff, 0.0) << arch << ": the bf16 path computed in float";
      n->set_step_precision(torch::kFloat);
      model::State back_to_float;
      EXPECT_TRUE(torch::allclose(n->forward(x.slice(1, 0, 1), &back_to_float), a.slice(1, 0, 1), 1e-5, 1e-5)) << arch;
    }
  }
  write_file_atomic(dir + "/bad.pt", std::string("not a checkpoint"));
  EXPECT_THROW_MSG(model::read_checkpoint_meta(dir + "/bad.pt"), FormatError,
                   dir + "/bad.pt: not an arioso checkpoint (it is not a libtorch archive)");
  std::filesystem::remove_all(dir);
}

// Damaged checkpoints (bytes overwritten anywhere, or cut short): each one fails with an arioso
// error naming the file, or loads the very weights that were saved (the damage hit padding or the
// optimizer's state, which the hash does not cover); never another exception, never a crash.
TEST(Model, DamagedCheckpointsFailWithAnErrorNamingTheFile) {
  std::string dir = temp_dir("ckpt-damage");
  torch::manual_seed(5);
  auto cfg = model::ModelConfig::preset_for("lstm", "tiny", 40);
  auto m = model::make_model(cfg);
  model::CheckpointMeta meta;
  meta.model = cfg;
  meta.tokenizer = music::TokenizerConfig{}.to_json();
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-3));
  model::save_checkpoint(dir + "/good.pt", meta, *m, &opt);
  const auto bytes = read_file_bytes(dir + "/good.pt");
  const std::string good(bytes.begin(), bytes.end());
  ASSERT_GT(good.size(), 1000u);
  std::mt19937 rng(17);
  int loaded = 0, refused = 0;
  for (int k = 0; k < 120; ++k) {
    std::string bad = good;
    if (k % 4 == 3) {
      bad.resize(rng() % good.size());
    } else {
      const std::size_t at = rng() % good.size();
      for (std::size_t i = at; i < std::min(good.size(), at + 1 + rng() % 40); ++i) bad[i] = static_cast<char>(rng());
    }
    const std::string path = dir + "/bad" + std::to_string(k) + ".pt";
    write_file_atomic(path, bad);
    try {
      auto n = model::load_checkpoint(path, nullptr);
      ++loaded;
      // What loads is the model that was saved: a damaged weight is caught by its checksum.
      auto a = m->named_parameters(), b = n->named_parameters();
      for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << "damage " << k << ": " << p.key();
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "damage " << k << ": not an arioso error: " << e.what();
    }
  }
  EXPECT_GT(refused, 60) << loaded << " loaded";  // most bytes are the weights' or the archive's structure
  std::filesystem::remove_all(dir);
}

// The hand-written layer against torch::nn::LSTM with the same weights: outputs, last states
// and the gradients of every input, with a loss that reaches y, h_n and c_n, from non-zero
// initial states; odd sizes and one-row batches (the layouts oneDNN is given change with them).
TEST(LstmLayer, EqualsTorchLstmForwardAndBackward) {
  constexpr double kTol = 1e-5;  // float32, a few hundred terms
  struct Case { std::int64_t T, B, I, H; };
  for (auto c : {Case{9, 3, 5, 7}, Case{1, 1, 4, 6}, Case{6, 1, 1, 3}, Case{17, 5, 33, 31}}) {
    torch::manual_seed(static_cast<std::uint64_t>(c.T * 100 + c.B));
    torch::nn::LSTM ref(torch::nn::LSTMOptions(c.I, c.H));
    auto p = ref->named_parameters();
    auto x = torch::randn({c.T, c.B, c.I}).requires_grad_();
    auto h0 = torch::randn({c.B, c.H}).requires_grad_(), c0 = torch::randn({c.B, c.H}).requires_grad_();
    auto wy = torch::randn({c.T, c.B, c.H}), wh = torch::randn({c.B, c.H}), wc = torch::randn({c.B, c.H});
    auto r = ref->forward(x, std::make_tuple(h0.unsqueeze(0), c0.unsqueeze(0)));
    auto y_ref = std::get<0>(r), hn_ref = std::get<0>(std::get<1>(r))[0], cn_ref = std::get<1>(std::get<1>(r))[0];
    ((y_ref * wy).sum() + (hn_ref * wh).sum() + (cn_ref * wc).sum()).backward();
    std::vector<torch::Tensor> want{x.grad().clone(), h0.grad().clone(), c0.grad().clone()};
    for (const char* k : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) want.push_back(p[k].grad().clone());
    for (auto* t : {&x, &h0, &c0}) t->mutable_grad() = torch::Tensor();
    for (auto& q : ref->parameters()) q.mutable_grad() = torch::Tensor();

    auto o = model::lstm_layer(x, h0, c0, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]);
    EXPECT_TRUE(torch::allclose(o.y, y_ref, kTol, kTol)) << c.T << "x" << c.B;
    EXPECT_TRUE(torch::allclose(o.hn, hn_ref, kTol, kTol));
    EXPECT_TRUE(torch::allclose(o.cn, cn_ref, kTol, kTol));
    ((o.y * wy).sum() + (o.hn * wh).sum() + (o.cn * wc).sum()).backward();
    std::vector<torch::Tensor> got{x.grad(), h0.grad(), c0.grad()};
    for (const char* k : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) got.push_back(p[k].grad());
    const char* names[] = {"x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"};
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(got[i].defined()) << names[i];
      EXPECT_LT((got[i] - want[i]).abs().max().item<double>(), kTol * (1 + want[i].abs().max().item<double>())) << names[i] << " " << c.T << "x" << c.B;
    }
    // The two bias gradients are equal but must not share storage (the optimizer updates each).
    EXPECT_NE(p["bias_ih_l0"].grad().data_ptr(), p["bias_hh_l0"].grad().data_ptr());
    // One step of the generation path equals the first step of the layer.
    auto s = model::lstm_cell_step(x[0].detach(), h0.detach(), c0.detach(), p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]);
    EXPECT_TRUE(torch::allclose(s.first, y_ref[0], kTol, kTol));
  }
}

// The LSTM model trains to the same losses through arioso's layer and through torch::nn::LSTM.
TEST(LstmLayer, ModelTrainsLikeTorchLstm) {
  std::vector<double> losses[2];
  for (int fused = 0; fused < 2; ++fused) {
    model::set_fused_lstm(fused == 1);
    torch::manual_seed(5);
    auto cfg = model::ModelConfig::preset_for("lstm", "tiny", 20);
    cfg.layers = 2;
    auto m = model::make_model(cfg);
    torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-2));
    auto x = torch::randint(0, 20, {4, 24}, torch::kLong);
    auto y = torch::roll(x, -1, 1);
    for (int i = 0; i < 20; ++i) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(m->forward(x, nullptr).reshape({-1, 20}), y.reshape({-1}));
      loss.backward();
      opt.step();
      losses[fused].push_back(loss.item<double>());
    }
  }
  model::set_fused_lstm(true);
  for (std::size_t i = 0; i < losses[0].size(); ++i) EXPECT_NEAR(losses[1][i], losses[0][i], 1e-4) << "step " << i;
  EXPECT_LT(losses[1].back(), losses[1].front() - 0.5);
}

TEST(Model, OverfitsOneBatch) {
  torch::manual_seed(1);
  auto cfg = model::ModelConfig::preset_for("lstm", "tiny", 20);
  auto m = model::make_model(cfg);
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-2));
  auto x = torch::randint(0, 20, {4, 24}, torch::kLong);
  auto y = torch::roll(x, -1, 1);
  double loss_v = 0;
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(m->forward(x, nullptr).reshape({-1, 20}), y.reshape({-1}));
    loss.backward();
    opt.step();
    loss_v = loss.item<double>();
  }
  EXPECT_LT(loss_v, 0.1);
}

// A window cut from inside a piece starts with the piece's header; after the header comes what
// follows it in the piece (its first Position), not the cut's token.
TEST(Train, AWindowsHeaderLeadsWhereThePieceGoes) {
  const std::vector<std::int64_t> header = {0, 7, 9}, body = {20, 21, 22, 23, 24, 25};
  auto r = train::plain_row(header, 40, body.data(), 5);
  EXPECT_EQ(r.ids, (std::vector<std::int64_t>{0, 7, 9, 20, 21, 22}));
  EXPECT_EQ(r.cut, 3);
  EXPECT_EQ(r.targets, (std::vector<std::int64_t>{7, 9, 40, 21, 22}));  // after 9 comes 40, the piece's
  auto plain = train::plain_row({}, -1, body.data(), 5);  // a window from a piece's start: the stream
  EXPECT_EQ(plain.ids, (std::vector<std::int64_t>{20, 21, 22, 23, 24, 25}));
  EXPECT_EQ(plain.targets, (std::vector<std::int64_t>{21, 22, 23, 24, 25}));
}

TEST(Train, TheScheduleWarmsUpThenFallsToATenth) {
  EXPECT_DOUBLE_EQ(train::scheduled_lr(1.0, 10, 110, 0), 0.1);     // first warm-up step
  EXPECT_DOUBLE_EQ(train::scheduled_lr(1.0, 10, 110, 9), 1.0);     // warm
  EXPECT_DOUBLE_EQ(train::scheduled_lr(1.0, 10, 110, 10), 1.0);    // the cosine starts
  EXPECT_NEAR(train::scheduled_lr(1.0, 10, 110, 60), 0.55, 1e-12);  // half way: (1 + 0.1) / 2
  EXPECT_NEAR(train::scheduled_lr(1.0, 10, 110, 110), 0.1, 1e-12);
  EXPECT_NEAR(train::scheduled_lr(1.0, 10, 110, 500), 0.1, 1e-12);  // stays there
}

TEST(Train, AutoPresetSizesTheModelByTheBudget) {
  // The formula without building the model, for every kind of LSTM preset.
  for (std::string preset : {"tiny", "2x128", "2x192", "2x256", "small", "seed"}) {
    auto c = model::ModelConfig::preset_for("lstm", preset, 325);
    EXPECT_EQ(model::lstm_parameter_count(c), model::parameter_count(*model::make_model(c))) << preset;
    c.scalar_input = true;
    EXPECT_EQ(model::lstm_parameter_count(c), model::parameter_count(*model::make_model(c))) << preset << " scalar";
  }
  auto c = model::ModelConfig::preset_for("lstm", "2x192", 325);
  EXPECT_EQ(c.hidden, 192);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.embed, 96);
  EXPECT_EQ(c.dense, 128);
  EXPECT_THROW(model::ModelConfig::preset_for("lstm", "2x16", 325), ConfigError);
  EXPECT_THROW(model::ModelConfig::preset_for("lstm", "2x", 325), ConfigError);
  // sqrt(1.2e10 * cores * seconds / 600) parameters, the nearest rung on a log scale.
  EXPECT_EQ(train::auto_preset("lstm", 0, 2, 325).preset, "small");  // no budget: the old default
  EXPECT_EQ(train::auto_preset("transformer", 10, 2, 325).preset, "small");
  auto demo = train::auto_preset("lstm", 15, 2, 325);  // ~190,000: 2x128 (311k) is nearer than tiny (61k)
  EXPECT_NEAR(demo.target_parameters, std::sqrt(1.2e10 * 2 * 900 / 600), 1);
  EXPECT_EQ(demo.preset, "2x128");
  EXPECT_EQ(train::auto_preset("lstm", 5, 1, 325).preset, "tiny");       // ~77,000
  EXPECT_EQ(train::auto_preset("lstm", 480, 2, 325).preset, "2x256");    // ~1.07M: 2x256 (1.03M)
  EXPECT_EQ(train::auto_preset("lstm", 5000, 2, 325).preset, "small");   // ~3.5M: the top rung
}

TEST(Train, ATimeBudgetWithoutEpochsKeepsTraining) {
  std::string dir = temp_dir("budget");
  std::string corpus = make_corpus(dir, 6, 120);
  train::TrainOptions o = tiny_run(corpus, dir + "/run", 0, 32, 1e-2);
  std::atomic<bool> stop{false};
  {
    train::TrainOptions no_budget = o;
    no_budget.run_dir = dir + "/none";
    EXPECT_THROW_MSG(train::train(no_budget, stop, {}), ConfigError, "--epochs must be at least 1 (or give --time-limit and no --epochs)");
  }
  // A budget far longer than this run: past the old default of 20 epochs, the schedule planned
  // over the budget has hardly begun to fall; we stop it ourselves at epoch 22.
  o.time_limit_min = 600;
  o.patience = 0;
  std::vector<double> lrs;
  auto r = train::train(o, stop, {}, [&](const train::EpochReport& e) {
    lrs.push_back(e.lr);
    if (e.epoch == 22) stop = true;
  });
  EXPECT_EQ(r.stopped_because, "interrupted");
  ASSERT_GE(lrs.size(), 22u);
  EXPECT_GT(lrs[21], 0.95 * o.lr);
  std::ifstream config(o.run_dir + "/config.json");
  EXPECT_EQ(nlohmann::json::parse(config)["train"]["epochs"], 0);
}

TEST(Train, RunResumeMismatchAndGenerate) {
  std::string dir = temp_dir("train");
  std::string corpus = make_corpus(dir, 6, 120);
  train::TrainOptions o = tiny_run(corpus, dir + "/run", 2, 32, 1e-2);
  std::atomic<bool> stop{false};
  auto r = train::train(o, stop, {});
  EXPECT_EQ(r.epochs_done, 2);
  render::write_run_loss_png(o.run_dir);
  eval::write_copy_index(data::read_corpus(corpus), o.run_dir + "/copy_index.bin", o.run_dir + "/copy_index.json");
  for (const char* f : {"config.json", "best.pt", "last.pt", "log.csv", "loss.png", "copy_index.bin"}) {
    EXPECT_TRUE(std::filesystem::exists(o.run_dir + "/" + f)) << f;
  }
  // A run stopped mid-epoch resumes with exactly the losses of an uninterrupted run.
  train::TrainOptions full = o;
  full.run_dir = dir + "/full";
  full.epochs = 3;
  auto rf = train::train(full, stop, {});
  train::TrainOptions part = full;
  part.run_dir = dir + "/part";
  std::atomic<bool> stop_after{false};
  train::train(part, stop_after, {}, [&](const train::EpochReport& e) { if (e.epoch == 1) stop_after = true; });
  part.resume = true;
  std::atomic<bool> no{false};
  auto rr = train::train(part, no, {});
  ASSERT_FALSE(rr.epochs.empty());
  EXPECT_EQ(rr.epochs.back().epoch, 3);
  EXPECT_DOUBLE_EQ(rr.epochs.back().train_loss, rf.epochs[2].train_loss);
  EXPECT_DOUBLE_EQ(rr.epochs.back().valid_nll, rf.epochs[2].valid_nll);
  train::TrainOptions more = o;
  more.resume = true;
  // A run refuses a corpus with another vocabulary.
  data::PrepareOptions po;
  po.tokenizer.name = "classic";
  auto other = data::prepare_corpus({dir + "/midi"}, po);
  data::write_corpus(dir + "/other.corpus", other.corpus);
  more.corpus = dir + "/other.corpus";
  more.epochs = 4;
  {
    music::Vocab remi = music::Vocab::for_remi();
    EXPECT_THROW_MSG(train::train(more, stop, {}), FormatError,
                     fmt::format("{}/run/last.pt: vocabulary ({} tokens, hash {:016x}) does not match corpus {} ({} tokens, hash {:016x})",
                                 dir, remi.size(), remi.hash(), more.corpus, other.corpus.vocab.size(), other.corpus.vocab.hash()));
  }
  // Early stopping: with no learning, validation cannot improve, so patience 2 ends the run
  // after three epochs (the first sets the best).
  train::TrainOptions flat = tiny_run(corpus, dir + "/flat", 10, 32, 0.0);
  flat.patience = 2;
  auto rs = train::train(flat, stop, {});
  EXPECT_EQ(rs.stopped_because, "early stopping");
  EXPECT_EQ(rs.epochs_done, 3);

  // Generation: same seed same output; top-k 1 equals greedy; key honoured; output decodes.
  generate::Generator g(o.run_dir);
  generate::GenerateOptions go;
  go.bars = 4;
  go.num = 2;
  go.seed = 5;
  auto a = g.generate(go), b = g.generate(go);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[1].tokens, b[1].tokens);
  auto greedy = go, top1 = go;
  greedy.greedy = true;
  greedy.repetition_penalty = top1.repetition_penalty = 1.0;
  top1.top_k = 1;
  EXPECT_EQ(g.generate(greedy)[0].tokens, g.generate(top1)[0].tokens);
  auto keyed = go;
  keyed.key = generate::parse_key("D:minor");
  for (const auto& p : g.generate(keyed)) {
    for (const auto& n : p.score.notes) {
      int d = ((n.pitch - 2) % 12 + 12) % 12;
      EXPECT_TRUE(d == 0 || d == 2 || d == 3 || d == 5 || d == 7 || d == 8 || d == 10) << n.pitch;
    }
  }
  for (const auto& p : a) {
    auto back = midi::read_midi(midi::write_midi(music::score_to_midi(p.score)));
    EXPECT_EQ(midi::extract_notes(back).size(), p.score.notes.size());
  }
  EXPECT_THROW_MSG(generate::parse_key("H:major"), ConfigError, "--key H:major: use TONIC:major or TONIC:minor, e.g. C:major, F#:minor, Bb:major");
  std::filesystem::remove_all(dir);
}

TEST(Generate, OriginalityGateHoldsOnMemorisedCorpus) {
  std::string dir = temp_dir("gate");
  std::string corpus = make_corpus(dir, 2, 200, 0.0);  // no validation: best.pt is the most memorised
  train::TrainOptions o = tiny_run(corpus, dir + "/run", 40, 64, 2e-2);
  o.patience = 0;
  o.augment = false;
  std::atomic<bool> stop{false};
  train::train(o, stop, {});
  eval::write_copy_index(data::read_corpus(corpus), o.run_dir + "/copy_index.bin", o.run_dir + "/copy_index.json");
  generate::Generator g(o.run_dir);
  generate::GenerateOptions go;
  go.notes = 120;
  go.greedy = true;
  go.repetition_penalty = 1.0;
  go.max_copy = 0;
  auto free = g.generate(go);
  EXPECT_EQ(free[0].notes, 120u);  // --notes ends the piece before its 121st note
  EXPECT_EQ(free[0].score.notes.size(), 120u);
  EXPECT_GT(free[0].copy.longest_onsets, 3u);  // the memorising model copies beyond K = 3
  go.max_copy = 3;
  auto gated = g.generate(go);
  EXPECT_LE(gated[0].copy.longest_onsets, 3u);
  EXPECT_GT(gated[0].notes, 0u);
  // The report matches a brute-force search over the training pieces' onsets.
  data::Corpus c = data::read_corpus(corpus);
  std::vector<std::vector<std::uint64_t>> refs;
  for (const auto& p : c.pieces) {
    if (p.split != data::Split::kTrain) continue;
    std::vector<std::string> t;
    for (auto id : p.tokens) t.push_back(c.vocab.token(id));
    refs.push_back(eval::onset_symbols(music::detokenize(t, c.tokenizer)));
  }
  for (const auto& piece : {free[0], gated[0]}) {
    EXPECT_EQ(eval::brute_force_longest_copy(eval::onset_symbols(piece.score), refs), piece.copy.longest_onsets);
  }
  std::filesystem::remove_all(dir);
}

// A model with instruments composes only with the instruments asked for, over many samples;
// without drums when told; and with the corpus's parts when nothing is asked.
TEST(Generate, OnlyTheInstrumentsAskedFor) {
  std::string dir = temp_dir("instruments");
  train::TrainOptions o = tiny_run(band_corpus(dir, 4, 96, true), dir + "/run", 6, 64, 2e-2);
  o.patience = 0;
  std::atomic<bool> stop{false};
  train::train(o, stop, {});
  generate::Generator g(o.run_dir);
  generate::GenerateOptions go;
  go.bars = 4;
  go.num = 16;
  go.temperature = 1.5;  // wander: a sample that could leave the set would
  go.top_p = 1;
  go.max_copy = 0;
  auto count_parts = [](const std::vector<generate::Piece>& pieces) {
    std::map<int, std::size_t> n;  // program (-1: drums) -> notes
    for (const auto& p : pieces) for (const auto& x : p.score.notes) ++n[x.drum() ? -1 : x.program];
    return n;
  };
  auto free = count_parts(g.generate(go));
  EXPECT_GT(free[-1], 0u);  // the model plays the corpus's drums...
  EXPECT_GT(free[33], 0u);  // ...and bass
  go.instruments = music::parse_instruments("bass,drums");
  auto asked = count_parts(g.generate(go));
  EXPECT_GT(asked[33] + asked[-1], 0u);
  for (const auto& [program, notes] : asked) EXPECT_TRUE(program == -1 || (program >= 32 && program <= 39)) << program << ": " << notes << " notes";
  go.instruments = music::parse_instruments("flute");
  go.no_drums = true;
  for (const auto& [program, notes] : count_parts(g.generate(go))) EXPECT_EQ(program, 73) << notes << " notes";
  // Each instrument is written on a track of its own, with its channel and program; drums on channel 10.
  go.instruments.reset();
  go.no_drums = false;
  go.num = 1;
  auto piece = g.generate(go)[0];
  auto file = midi::read_midi(midi::write_midi(music::score_to_midi(piece.score)));
  for (std::size_t t = 1; t < file.tracks.size(); ++t) {
    std::set<std::pair<int, int>> seen;  // (channel, program)
    for (const auto& n : midi::extract_notes(file)) if (n.track == static_cast<int>(t)) seen.insert({n.channel, n.program});
    ASSERT_EQ(seen.size(), 1u) << "track " << t;
    const auto [channel, program] = *seen.begin();
    EXPECT_EQ(midi::track_name(file.tracks[t]), channel == 9 ? "Drums" : music::program_name(program));
  }
  // A merged model has no instruments to choose from.
  generate::GenerateOptions bass;
  bass.instruments = music::parse_instruments("bass");
  const music::Vocab v = music::Vocab::for_remi(music::tokenizer_named("remi").remi);
  const auto banned = generate::banned_instruments(bass, music::tokenizer_named("remi"), v.size());
  EXPECT_FALSE(banned[static_cast<std::size_t>(v.id("Program_33"))]);
  EXPECT_TRUE(banned[static_cast<std::size_t>(v.id("Program_0"))]);
  EXPECT_TRUE(banned[static_cast<std::size_t>(v.id("Drum_36"))]);
  EXPECT_FALSE(banned[static_cast<std::size_t>(v.id("Pitch_40"))]);
  EXPECT_THROW_MSG(generate::banned_instruments(bass, music::tokenizer_named("remi-merged"), 325), ConfigError,
                   "this run's tokenizer has no instruments: --instruments and --no-drums need a run prepared with --tokenizer remi (the default since 0.2)");
  std::filesystem::remove_all(dir);
}

TEST(Generate, TrailingTempoAndMeterChangesAreDropped) {
  music::Score s;
  s.notes.push_back({});
  s.notes[0].start_tick = 0;
  s.notes[0].end_tick = 960;
  s.tempos = {{0, 500000}, {480, 400000}, {960, 300000}, {1200, 250000}};
  s.time_signatures = {{0, 4, 4}, {960, 3, 4}};
  generate::drop_trailing_changes(s);
  ASSERT_EQ(s.tempos.size(), 2u);
  EXPECT_EQ(s.tempos[1].tick, 480u);
  ASSERT_EQ(s.time_signatures.size(), 1u);
  // With no notes, only what stands at tick 0 is kept.
  music::Score empty;
  empty.tempos = {{0, 500000}, {10, 400000}};
  generate::drop_trailing_changes(empty);
  EXPECT_EQ(empty.tempos.size(), 1u);
}

// --- The sampler on hand-made logits (generate/sampler.h).

TEST(Sampler, GreedyTopKTopPAndTemperature) {
  using generate::SamplerSettings;
  const double kNo = -INFINITY;
  std::mt19937_64 rng(1);
  auto draw = [&](std::vector<double> lg, const SamplerSettings& s, std::vector<bool> pen = {}) { return generate::sample_token(lg, pen, s, rng); };
  const std::vector<double> lg = {std::log(0.2), std::log(0.5), kNo, std::log(0.3)};
  EXPECT_EQ(draw(lg, {1.0, 0, 1.0, 1.0, true}), 1);          // greedy: the argmax
  EXPECT_EQ(draw(lg, {1.0, 1, 1.0, 1.0, false}), 1);         // top-k 1 is greedy
  EXPECT_EQ(draw(lg, {1e-6, 0, 1.0, 1.0, false}), 1);        // a cold temperature too
  EXPECT_EQ(draw({kNo, kNo}, {}), -1);                        // nothing allowed
  // Frequencies: 0.2 / 0.5 / never / 0.3, within 3 standard errors over 6000 draws.
  auto freq = [&](const SamplerSettings& s) {
    std::vector<double> f(4, 0);
    for (int i = 0; i < 6000; ++i) f[static_cast<std::size_t>(draw(lg, s))] += 1.0 / 6000;
    return f;
  };
  auto f = freq({});
  EXPECT_NEAR(f[0], 0.2, 0.016);
  EXPECT_NEAR(f[1], 0.5, 0.02);
  EXPECT_EQ(f[2], 0);
  EXPECT_NEAR(f[3], 0.3, 0.018);
  // top-k 2 keeps 0.5 and 0.3: renormalised 0.625 / 0.375.
  f = freq({1.0, 2, 1.0, 1.0, false});
  EXPECT_EQ(f[0], 0);
  EXPECT_NEAR(f[1], 0.625, 0.02);
  // top-p 0.6: 0.5 is not enough, 0.5 + 0.3 is: the same two.
  f = freq({1.0, 0, 0.6, 1.0, false});
  EXPECT_EQ(f[0], 0);
  EXPECT_NEAR(f[3], 0.375, 0.02);
  // top-p 0.5 keeps the first alone.
  f = freq({1.0, 0, 0.5, 1.0, false});
  EXPECT_NEAR(f[1], 1.0, 1e-9);
  // Temperature 2: probabilities as the square roots, renormalised.
  f = freq({2.0, 0, 1.0, 1.0, false});
  const double z = std::sqrt(0.2) + std::sqrt(0.5) + std::sqrt(0.3);
  EXPECT_NEAR(f[0], std::sqrt(0.2) / z, 0.018);
  EXPECT_NEAR(f[1], std::sqrt(0.5) / z, 0.02);
}

TEST(Sampler, RepetitionPenaltyAndRepeatedNgrams) {
  std::mt19937_64 rng(2);
  std::vector<double> lg = {2.0, -1.0, 1.5};
  generate::SamplerSettings s;
  s.repetition_penalty = 2.0;
  s.greedy = true;
  // Token 0's logit 2 becomes 1 and token 1's -1 becomes -2: token 2 (1.5) wins.
  EXPECT_EQ(generate::sample_token(lg, {true, true, false}, s, rng), 2);
  EXPECT_DOUBLE_EQ(lg[0], 1.0);
  EXPECT_DOUBLE_EQ(lg[1], -2.0);
  EXPECT_DOUBLE_EQ(lg[2], 1.5);
  // n-grams: after 5 6 7 ... 5 6, a 3-gram ban forbids 7 (and only 7); from = 1 skips the first.
  std::vector<bool> allowed(10, true);
  generate::forbid_repeated_ngrams({5, 6, 7, 1, 5, 6}, 0, 3, allowed);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(allowed[static_cast<std::size_t>(i)], i != 7) << i;
  allowed.assign(10, true);
  generate::forbid_repeated_ngrams({5, 6, 7, 1, 5, 6}, 1, 3, allowed);
  EXPECT_TRUE(allowed[7]);
  allowed.assign(10, true);
  generate::forbid_repeated_ngrams({4, 4, 4}, 0, 2, allowed);  // 4 4 seen: another 4 would repeat it
  EXPECT_FALSE(allowed[4]);
}

namespace {

/// A tiny run on four band tunes (melody, bass, drums) that has learned to fill in.
const std::string& infill_run() {
  static const std::string run = [] {
    std::string dir = temp_dir("infill");
    // 16 epochs: the tunes repeat bars, so an epoch of their Repeat tokens is short.
    train::TrainOptions o = tiny_run(band_corpus(dir, 4, 128, true), dir + "/run", 16, 128, 2e-2);
    o.patience = 0;
    o.infill_share = 0.5;
    std::atomic<bool> stop{false};
    train::train(o, stop, {});
    return o.run_dir;
  }();
  return run;
}

/// Notes as mido reads them from a MIDI file: (channel, pitch, velocity, start, end).
using MidoNote = std::tuple<int, int, int, std::int64_t, std::int64_t>;
std::vector<std::vector<MidoNote>> mido_notes(const std::vector<std::string>& files) {
  std::vector<std::vector<MidoNote>> out;
  for (const auto& j : run_reference(ARIOSO_SOURCE_DIR "/tests/reference/mido_notes.py", files)) {
    std::vector<MidoNote> v;
    for (const auto& n : j.at("notes")) v.emplace_back(n[1].get<int>(), n[3].get<int>(), n[4].get<int>(), n[5].get<std::int64_t>(), n[6].get<std::int64_t>());
    std::sort(v.begin(), v.end());
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST(Infill, GivenNotesStayAndTheSeamsHold) {
  if (!have_mido()) GTEST_SKIP() << "python3-mido not installed";
  generate::Generator g(infill_run());
  std::string dir = temp_dir("infill-cases");
  // 16 bars of 4/4; a second song turns to 3/4 at bar 7 and is silent in bars 11-12; a third is
  // at 96 ticks per quarter.
  music::Score plain = band_tune(4, 128, 0);
  music::Score meter = band_tune(6, 120, 0);
  meter.time_signatures = {{0, 4, 4}, {480 * 24, 3, 4}};
  meter.notes.erase(std::remove_if(meter.notes.begin(), meter.notes.end(), [](const music::Note& n) {
    return n.start_tick >= 480 * (24 + 12) && n.start_tick < 480 * (24 + 18);
  }), meter.notes.end());
  music::Score coarse = plain;
  coarse.ticks_per_quarter = 96;
  for (auto& n : coarse.notes) n.start_tick /= 5, n.end_tick /= 5;
  struct Case { const char* what; const music::Score* song; const char* bars; const char* instruments; };
  const std::vector<Case> cases{{"a middle stretch", &plain, "5-8", ""}, {"the first bar", &plain, "1", ""},
                                {"the last bar", &plain, "16", ""},       {"one bar, the bass", &plain, "9", "bass"},
                                {"over the meter change", &meter, "6-8", ""}, {"a silent gap", &meter, "11-12", ""},
                                {"drums at 96 ticks", &coarse, "3-6", "drums"}};
  std::size_t filled = 0;
  for (const auto& c : cases) {
    const std::string in = dir + "/in.mid", out = dir + "/out.mid";
    write_file_atomic(in, midi::write_midi(music::score_to_midi(*c.song)));
    const music::Score song = music::score_from_midi(midi::read_midi_file(in));
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      generate::InfillOptions o;
      std::tie(o.first_bar, o.end_bar) = generate::parse_bars(c.bars);
      if (*c.instruments) o.instruments = music::parse_instruments(c.instruments);
      o.seed = seed;
      o.max_copy = 0;
      const auto r = g.infill(song, o);
      write_file_atomic(out, midi::write_midi(music::score_to_midi(r.score)));
      const auto seams = generate::check_seams(r.added, r.score.notes, r.end_tick);
      EXPECT_EQ(seams.hanging, 0u) << c.what;
      EXPECT_EQ(seams.doubled, 0u) << c.what;
      filled += r.added.size();
      for (const auto& n : r.added) {
        ASSERT_GE(n.start_tick, r.start_tick) << c.what;
        ASSERT_LE(n.end_tick, r.end_tick) << c.what;
        if (*c.instruments) {
          EXPECT_TRUE(o.instruments->drums ? n.drum() : n.program >= 32 && n.program <= 39) << c.what;
        }
      }
      // Read back with mido: every note outside the span, and inside it every note of a part
      // not filled, is there exactly as it was; the song's meter and tempo are kept.
      const auto notes = mido_notes({in, out});
      std::vector<MidoNote> want, got;
      auto outside = [&](const MidoNote& n) { return std::get<3>(n) < static_cast<std::int64_t>(r.start_tick) || std::get<3>(n) >= static_cast<std::int64_t>(r.end_tick); };
      auto filled_part = [&](const MidoNote& n) {
        if (!*c.instruments) return true;
        return o.instruments->drums ? std::get<0>(n) == 9 : std::get<0>(n) == 1;  // band_tune: bass on channel 2
      };
      for (const auto& n : notes[0]) if (outside(n) || !filled_part(n)) want.push_back(n);
      for (const auto& n : notes[1]) if (outside(n) || !filled_part(n)) got.push_back(n);
      EXPECT_EQ(got, want) << c.what << " seed " << seed;
      EXPECT_EQ(r.kept, want.size()) << c.what;
      const auto back = music::score_from_midi(midi::read_midi_file(out));
      ASSERT_EQ(back.time_signatures.size(), song.time_signatures.size()) << c.what;
      for (std::size_t i = 0; i < back.time_signatures.size(); ++i) EXPECT_EQ(back.time_signatures[i].tick, song.time_signatures[i].tick) << c.what;
      EXPECT_EQ(back.ticks_per_quarter, song.ticks_per_quarter) << c.what;
    }
  }
  EXPECT_GT(filled, 100u);  // the model does fill, it does not leave the gaps silent
  EXPECT_THROW_MSG(g.infill(music::score_from_midi(midi::read_midi_file(dir + "/in.mid")), [] {
    generate::InfillOptions o;
    std::tie(o.first_bar, o.end_bar) = generate::parse_bars("15-30");
    return o;
  }()), ConfigError, "--bars 15-30: the song has 16 bars");
  EXPECT_THROW_MSG(generate::parse_bars("9-x"), ConfigError, "--bars 9-x: give FIRST-LAST (1-based, inclusive), e.g. 9-16, or one bar, e.g. 9");
  EXPECT_THROW_MSG(generate::parse_bars("0"), ConfigError, "--bars 0: give FIRST-LAST (1-based, inclusive), e.g. 9-16, or one bar, e.g. 9");
  std::filesystem::remove_all(dir);
}

TEST(Infill, AccompanyKeepsEveryGivenNoteAndAddsOnlyWhatIsAsked) {
  if (!have_mido()) GTEST_SKIP() << "python3-mido not installed";
  generate::Generator g(infill_run());
  std::string dir = temp_dir("accompany");
  const std::string in = dir + "/melody.mid", out = dir + "/out.mid";
  write_file_atomic(in, walking_tune_midi(5, 96));
  const music::Score melody = music::score_from_midi(midi::read_midi_file(in));
  std::size_t bass = 0, drums = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    generate::InfillOptions o;
    o.add = true;
    o.instruments = music::parse_instruments("bass,drums");
    o.seed = seed;
    const auto r = g.infill(melody, o);
    EXPECT_EQ(r.kept, melody.notes.size());
    EXPECT_EQ(r.replaced, 0u);
    for (const auto& n : r.added) {
      ASSERT_TRUE(n.drum() || (n.program >= 32 && n.program <= 39)) << n.program;
      (n.drum() ? drums : bass) += 1;
      EXPECT_NE(n.channel, 0);  // the melody's channel stays the melody's
    }
    write_file_atomic(out, midi::write_midi(music::score_to_midi(r.score)));
    const auto notes = mido_notes({in, out});
    std::vector<MidoNote> given;
    for (const auto& n : notes[1]) if (std::get<0>(n) == 0) given.push_back(n);
    EXPECT_EQ(given, notes[0]) << "seed " << seed;
    EXPECT_EQ(notes[1].size(), melody.notes.size() + r.added.size());
  }
  EXPECT_GT(bass, 0u);
  EXPECT_GT(drums, 0u);
  std::filesystem::remove_all(dir);
}

TEST(Infill, ARunThatNeverLearnedToFillSaysSo) {
  std::string dir = temp_dir("no-infill");
  train::TrainOptions o = tiny_run(band_corpus(dir, 2, 64, false), dir + "/run", 1, 64, 2e-2);
  o.infill_share = 0;
  std::atomic<bool> stop{false};
  train::train(o, stop, {});
  generate::Generator g(o.run_dir);
  generate::InfillOptions io;
  io.end_bar = 1;
  EXPECT_THROW_MSG(g.infill(band_tune(3, 64), io), ConfigError,
                   "this run was trained with --infill-share 0: it never learned to fill in (train with the default share)");
  std::filesystem::remove_all(dir);
}

TEST(Generate, AContinuationCarriesItsPrimersKeyAndMeter) {
  generate::Generator g(infill_run());
  std::string dir = temp_dir("continue");
  music::Score primer = band_tune(2, 48, 0);  // 3/4 from the start, a tritone away from the tunes learned
  primer.time_signatures = {{0, 3, 4}};
  for (auto& n : primer.notes) if (!n.drum()) n.pitch += 6;
  write_file_atomic(dir + "/primer.mid", midi::write_midi(music::score_to_midi(primer)));
  generate::GenerateOptions o;
  o.primer = g.primer_from_midi(dir + "/primer.mid");
  std::string last_key;
  for (const auto& t : o.primer) if (t.rfind("Key_", 0) == 0) last_key = t;
  ASSERT_FALSE(last_key.empty());
  o.bars = 6;
  o.num = 8;
  o.temperature = 1.5;
  o.top_p = 1;
  o.max_copy = 0;
  std::size_t keys = 0;
  for (const auto& p : g.generate(o)) {
    int bars = 0;
    for (const auto& t : p.tokens) {
      EXPECT_NE(t.rfind("TimeSig_", 0), 0u) << t;  // the primer's meter holds
      if (t.rfind("Key_", 0) == 0) {
        EXPECT_EQ(t, last_key);
        ++keys;
      }
      bars += t == "Bar";
    }
    EXPECT_LE(bars, 6);
    for (const auto& ts : p.score.time_signatures) EXPECT_EQ(std::make_pair(ts.numerator, ts.denominator), std::make_pair(3, 4));
  }
  EXPECT_GT(keys, 8u);
  std::filesystem::remove_all(dir);
}

TEST(Generate, AKeyRelativeModelPlaysInTheKeyItIsGiven) {
  // Melodies in C major only; training transposes them into every key. A model that reads
  // pitches relative to the bar's key (the default where the tokens have keys) learns scale
  // degrees, so asked for F# major or Eb minor through the Key token alone (no mask), its notes
  // are in that key: the view, not a filter, puts them there.
  std::string dir = temp_dir("key-view");
  std::filesystem::create_directories(dir + "/midi");
  const int major[7] = {0, 2, 4, 5, 7, 9, 11};
  for (int p = 0; p < 6; ++p) {
    music::Score s;
    s.ticks_per_quarter = 480;
    for (int i = 0; i < 96; ++i) {
      music::Note n;
      n.start_tick = static_cast<std::uint64_t>(i) * 240;
      n.end_tick = n.start_tick + 240;
      n.pitch = 60 + major[(i * (p + 2) + i / 7) % 7];
      n.velocity = 80;
      s.notes.push_back(n);
    }
    write_file_atomic(dir + "/midi/c" + std::to_string(p) + ".mid", midi::write_midi(music::score_to_midi(s)));
  }
  data::PrepareOptions po;
  po.tokenizer = music::tokenizer_named("remi");
  po.valid_fraction = 0;
  data::write_corpus(dir + "/c.corpus", data::prepare_corpus({dir + "/midi"}, po).corpus);
  train::TrainOptions t = tiny_run(dir + "/c.corpus", dir + "/run", 12, 64, 2e-2);
  t.patience = 0;
  t.infill_share = 0;
  std::atomic<bool> stop{false};
  train::train(t, stop, {});
  EXPECT_EQ(model::read_checkpoint_meta(dir + "/run/last.pt").model.pitch_view, "key");

  generate::Generator g(dir + "/run");
  for (auto key : {std::make_pair(6, false), std::make_pair(3, true)}) {
    generate::GenerateOptions o;
    o.key = key;
    o.bars = 4;
    o.num = 4;
    o.temperature = 1.0;
    o.top_p = 1;
    o.max_copy = 0;
    const int tonic = key.second ? (key.first + 3) % 12 : key.first;  // the relative major's
    std::size_t in = 0, all = 0;
    for (const auto& piece : g.generate(o)) {
      for (const auto& n : piece.score.notes) {
        ++all;
        in += std::count(major, major + 7, ((n.pitch - tonic) % 12 + 12) % 12) > 0;
      }
    }
    ASSERT_GT(all, 20u);
    EXPECT_GE(static_cast<double>(in) / static_cast<double>(all), 0.95) << "key " << key.first << (key.second ? " minor" : " major");
  }
  std::filesystem::remove_all(dir);
}

TEST(Infill, ATransformerFillsInToo) {
  // The same arrangement through the Transformer's cached steps.
  std::string dir = temp_dir("infill-transformer");
  train::TrainOptions o = tiny_run(band_corpus(dir, 3, 64, false), dir + "/run", 2, 0, 1e-2);
  o.arch = "transformer";
  o.infill_share = 0.5;
  o.patience = 0;
  std::atomic<bool> stop{false};
  train::train(o, stop, {});
  generate::Generator g(o.run_dir);
  ASSERT_GT(g.meta().model.context, 0);
  const music::Score song = band_tune(5, 64);
  generate::InfillOptions io;
  std::tie(io.first_bar, io.end_bar) = generate::parse_bars("3-6");
  io.max_copy = 0;
  const auto r = g.infill(song, io);
  const auto seams = generate::check_seams(r.added, r.score.notes, r.end_tick);
  EXPECT_EQ(seams.hanging + seams.doubled, 0u);
  std::size_t outside = 0;
  for (const auto& n : song.notes) outside += n.start_tick < r.start_tick || n.start_tick >= r.end_tick;
  EXPECT_EQ(r.kept, outside);
  for (const auto& n : r.added) EXPECT_TRUE(n.start_tick >= r.start_tick && n.end_tick <= r.end_tick);
  std::filesystem::remove_all(dir);
}
