// Cross-check against PyTorch (tests/reference/model_reference.py, python3-torch): tiny
// seeded models with the same weights must give the same logits, loss and gradients, and
// score_sequence / score_sequences must give PyTorch's mean next-token NLL.
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "train/train.h"
#include "test_util.h"

using namespace arioso;

namespace {

// float32 forward and backward over a few hundred terms: agreement to a few ulps of the
// magnitudes involved (llm.c's atol + rtol * |ref| rule).
constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;

nlohmann::json fixture() {
  std::ifstream in(ARIOSO_SOURCE_DIR "/tests/data/model_reference.json");
  return nlohmann::json::parse(in);
}

void expect_close(const torch::Tensor& got, const std::vector<double>& ref, const std::string& what) {
  auto g = got.to(torch::kDouble).contiguous().reshape({-1});
  ASSERT_EQ(g.numel(), static_cast<long>(ref.size())) << what;
  auto a = g.accessor<double, 1>();
  for (std::size_t i = 0; i < ref.size(); ++i) {
    ASSERT_LE(std::abs(a[static_cast<long>(i)] - ref[i]), kAtol + kRtol * std::abs(ref[i])) << what << "[" << i << "]";
  }
}

void check(const std::string& arch, model::ModelConfig cfg) {
  auto j = fixture();
  const auto& c = j[arch];
  torch::manual_seed(0);
  auto m = model::make_model(cfg);
  m->eval();
  {
    torch::NoGradGuard ng;
    auto params = m->named_parameters();
    ASSERT_EQ(params.size(), c["params"].size()) << arch;
    for (auto& p : params) {
      ASSERT_TRUE(c["params"].contains(p.key())) << arch << " has no reference for " << p.key();
      const auto& r = c["params"][p.key()];
      auto data = r["data"].get<std::vector<float>>();
      auto t = torch::from_blob(data.data(), {static_cast<long>(data.size())}, torch::kFloat).clone();
      ASSERT_EQ(t.numel(), p.value().numel()) << p.key();
      p.value().copy_(t.view(p.value().sizes()));
    }
  }
  auto to_tensor = [](const nlohmann::json& rows) {
    std::vector<std::int64_t> v;
    for (const auto& r : rows) for (const auto& x : r) v.push_back(x.get<std::int64_t>());
    return torch::tensor(v).view({static_cast<long>(rows.size()), -1});
  };
  auto x = to_tensor(j["x"]), y = to_tensor(j["y"]);
  const int V = j["vocab"];
  auto logits = m->forward(x, nullptr);
  expect_close(logits, c["logits"].get<std::vector<double>>(), arch + " logits");
  auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, V}), y.reshape({-1}));
  EXPECT_NEAR(loss.item<double>(), c["loss"].get<double>(), kAtol) << arch;
  loss.backward();
  for (auto& p : m->named_parameters()) expect_close(p.value().grad(), c["grads"][p.key()].get<std::vector<double>>(), arch + " grad " + p.key());
  auto seq = j["sequence"].get<std::vector<std::uint16_t>>();
  auto s = train::score_sequence(*m, seq, torch::kCPU);
  EXPECT_EQ(s.tokens, static_cast<std::int64_t>(seq.size() - 1));
  EXPECT_NEAR(s.nll(), c["sequence_nll_per_token"].get<double>(), kAtol) << arch;
  auto batched = train::score_sequences(*m, {&seq}, torch::kCPU);
  EXPECT_NEAR(batched[0].nll(), c["sequence_nll_per_token"].get<double>(), kAtol) << arch;
  // Generation's way: one token per call with carried state (a Transformer's key/value cache).
  torch::NoGradGuard ng;
  model::State st;
  std::vector<torch::Tensor> steps;
  for (std::size_t i = 0; i + 1 < seq.size(); ++i) {
    steps.push_back(m->forward(torch::tensor({static_cast<std::int64_t>(seq[i])}).view({1, 1}), &st)[0]);
  }
  expect_close(torch::cat(steps), c["sequence_logits"].get<std::vector<double>>(), arch + " one-token steps");
  EXPECT_EQ(st.position, static_cast<std::int64_t>(seq.size() - 1));
}

model::ModelConfig tiny_transformer(const std::string& positions) {
  model::ModelConfig c;
  c.arch = "transformer";
  c.vocab_size = 11;
  c.d_model = 8;
  c.heads = 2;
  c.blocks = 2;
  c.context = 16;
  c.dropout = 0;
  c.positions = positions;
  return c;
}

}  // namespace

TEST(PyTorchReference, Lstm) {
  model::ModelConfig c;
  c.arch = "lstm";
  c.vocab_size = 11;
  c.embed = 6;
  c.hidden = 10;
  c.layers = 2;
  c.dense = 8;
  c.dropout = 0;
  check("lstm", c);
}

TEST(PyTorchReference, Transformer) { check("transformer", tiny_transformer("learned")); }

TEST(PyTorchReference, TransformerRotary) { check("transformer_rotary", tiny_transformer("rotary")); }

// Past the context, a rotary model's cache drops its oldest steps. With one block, keys and
// values depend on a token and its position only, and attention on distances only, so each
// step must equal a fresh pass over the steps the cache still holds.
TEST(Transformer, SlidingCacheEqualsAFreshWindow) {
  auto c = tiny_transformer("rotary");
  c.blocks = 1;
  c.context = 8;
  torch::manual_seed(3);
  auto m = model::make_model(c);
  m->eval();
  torch::NoGradGuard ng;
  ASSERT_TRUE(m->slides());
  model::State st;
  std::vector<std::int64_t> seq;
  for (int i = 0; i < 30; ++i) {
    seq.push_back((i * 5 + 3) % 11);
    auto step = m->forward(torch::tensor({seq.back()}).view({1, 1}), &st)[0][0];
    ASSERT_LE(st.cached, c.context);
    ASSERT_EQ(st.position, i + 1);
    std::vector<std::int64_t> window(seq.end() - st.cached, seq.end());
    auto fresh = m->forward(torch::tensor(window).view({1, -1}), nullptr)[0][-1];
    ASSERT_TRUE(torch::allclose(step, fresh, 1e-4, 1e-5)) << "step " << i << ", " << st.cached << " cached";
  }
  EXPECT_LT(st.cached, 30);  // it did slide
  // Learned positions cannot: the caller starts again (generate does).
  auto learned = model::make_model(tiny_transformer("learned"));
  EXPECT_FALSE(learned->slides());
}

// Long inputs go through attention in chunks of 128 queries: the same as one at a time.
TEST(Transformer, ChunkedAttentionEqualsStepByStep) {
  auto c = tiny_transformer("rotary");
  c.context = 300;
  torch::manual_seed(5);
  auto m = model::make_model(c);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 11, {2, 300}, torch::kLong);
  auto whole = m->forward(x, nullptr);
  model::State st;
  auto first = m->forward(x.narrow(1, 0, 129), &st);  // a primer of two chunks, then steps
  std::vector<torch::Tensor> parts{first};
  for (int t = 129; t < 300; ++t) parts.push_back(m->forward(x.narrow(1, t, 1), &st));
  EXPECT_TRUE(torch::allclose(whole, torch::cat(parts, 1), 1e-4, 1e-5));
}

TEST(Scoring, BatchedEqualsOneByOne) {
  torch::manual_seed(4);
  auto m = model::make_model(model::ModelConfig::preset_for("lstm", "tiny", 30));
  m->eval();
  std::vector<std::vector<std::uint16_t>> pieces;
  for (int len : {700, 5, 300, 2, 1, 299}) {
    std::vector<std::uint16_t> p;
    for (int i = 0; i < len; ++i) p.push_back(static_cast<std::uint16_t>((i * 7 + len) % 30));
    pieces.push_back(p);
  }
  std::vector<const std::vector<std::uint16_t>*> ptrs;
  for (auto& p : pieces) ptrs.push_back(&p);
  auto batched = train::score_sequences(*m, ptrs, torch::kCPU);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    auto one = train::score_sequence(*m, pieces[i], torch::kCPU);
    EXPECT_EQ(batched[i].tokens, one.tokens) << i;
    EXPECT_EQ(batched[i].correct, one.correct) << i;
    EXPECT_NEAR(batched[i].nll_sum, one.nll_sum, 1e-6 * (1 + one.nll_sum)) << i;
  }
}
