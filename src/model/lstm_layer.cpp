// The hand-written LSTM layer; see lstm_layer.h. The arithmetic, per step t and batch row:
//   a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh             (B, 4H), split into i f g o
//   i, f, o = sigmoid(.), g = tanh(.)
//   c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
// and backward, from dh (the gradient reaching h_t) and dc (reaching c_t from step t+1):
//   dc' = dc + dh o (1 - tanh(c_t)^2)
//   da_i = dc' g i (1 - i),  da_f = dc' c_{t-1} f (1 - f),  da_g = dc' i (1 - g^2),
//   da_o = dh tanh(c_t) o (1 - o),  dc_{t-1} = dc' f,  dh_{t-1} = da W_hh.
#include "model/lstm_layer.h"

#include "model/gemm.h"

#include <algorithm>


namespace arioso::model {

namespace {

using torch::Tensor;

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Rows [b0, b1) of one step's cell update, after the gate activations: c = f c_prev + i g.
void cell_forward(const float* gates, const float* c_prev, float* c, std::int64_t b0, std::int64_t b1, std::int64_t H) {
  for (auto b = b0; b < b1; ++b) {
    const float* a = gates + b * 4 * H;
    const float* cp = c_prev + b * H;
    float* cb = c + b * H;
    for (std::int64_t j = 0; j < H; ++j) cb[j] = a[H + j] * cp[j] + a[j] * a[2 * H + j];
  }
}

/// h = o tanh(c), rows [b0, b1).
void cell_output(const float* gates, const float* tanh_c, float* h, std::int64_t b0, std::int64_t b1, std::int64_t H) {
  for (auto b = b0; b < b1; ++b) {
    const float* o = gates + b * 4 * H + 3 * H;
    const float* tc = tanh_c + b * H;
    float* hb = h + b * H;
    for (std::int64_t j = 0; j < H; ++j) hb[j] = o[j] * tc[j];
  }
}

/// One step backward, rows [b0, b1): dh (in: the gradient reaching h_t from step t+1, to which
/// dy adds the output's), dc (in: from step t+1; out: to c_{t-1}), da (out: gate pre-activations).
void cell_backward(const float* gates, const float* c_prev, const float* tanh_c, const float* dy, const float* dh,
                   float* dc, float* da, std::int64_t b0, std::int64_t b1, std::int64_t H) {
  for (auto b = b0; b < b1; ++b) {
    const float* a = gates + b * 4 * H;
    const float* cp = c_prev + b * H;
    const float* tc = tanh_c + b * H;
    const float* y = dy + b * H;
    const float* hh = dh + b * H;
    float* cc = dc + b * H;
    float* d = da + b * 4 * H;
    for (std::int64_t j = 0; j < H; ++j) {
      const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], t = tc[j];
      const float dht = hh[j] + y[j];
      const float dct = cc[j] + dht * o * (1.0f - t * t);
      d[j] = dct * g * i * (1.0f - i);
      d[H + j] = dct * cp[j] * f * (1.0f - f);
      d[2 * H + j] = dct * i * (1.0f - g * g);
      d[3 * H + j] = dht * t * o * (1.0f - o);
      cc[j] = dct * f;
    }
  }
}

/// Runs fn(b0, b1) over the batch rows, split among libtorch's threads when worth it.
template <typename Fn>
void over_rows(std::int64_t B, std::int64_t H, Fn fn) {
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(H, 1));
  at::parallel_for(0, B, grain, fn);
}

struct LstmLayerFn : public torch::autograd::Function<LstmLayerFn> {
  static variable_list forward(AutogradContext* ctx, Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh,
                               Tensor b_ih, Tensor b_hh) {
    x = x.contiguous();
    const auto T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
    auto opts = x.options();
    // gates: pre-activations, then (in place) the activations i f g o that backward needs.
    auto gates = torch::empty({T, B, 4 * H}, opts);
    auto gates2 = gates.view({T * B, 4 * H});
    gates2.copy_((b_ih + b_hh).unsqueeze(0).expand({T * B, 4 * H}));
    matmul_into(gates2, x.view({T * B, I}), w_ih.t(), 1.0f);
    auto hs = torch::empty({T + 1, B, H}, opts);  // h_{-1} (= h0), h_0 ... h_{T-1}
    auto cs = torch::empty({T + 1, B, H}, opts);
    auto tanh_c = torch::empty({T, B, H}, opts);
    hs[0].copy_(h0);
    cs[0].copy_(c0);
    // W_hh^T laid out (H, 4H): oneDNN re-packs a transposed right operand on every call, which
    // at B rows costs more than the product (measured: 102 vs 151 GFLOP/s at B = 32).
    const auto w_hh_t = w_hh.t().contiguous();
    for (std::int64_t t = 0; t < T; ++t) {
      auto a = gates[t];
      matmul_into(a, hs[t], w_hh_t, 1.0f);
      a.narrow(1, 0, 2 * H).sigmoid_();
      a.narrow(1, 2 * H, H).tanh_();
      a.narrow(1, 3 * H, H).sigmoid_();
      const float* ap = a.data_ptr<float>();
      const float* cp = cs[t].data_ptr<float>();
      float* cn = cs[t + 1].data_ptr<float>();
      over_rows(B, H, [&](std::int64_t b0, std::int64_t b1) { cell_forward(ap, cp, cn, b0, b1, H); });
      auto tct = tanh_c[t];
      torch::tanh_out(tct, cs[t + 1]);
      const float* tc = tanh_c[t].data_ptr<float>();
      float* hn = hs[t + 1].data_ptr<float>();
      over_rows(B, H, [&](std::int64_t b0, std::int64_t b1) { cell_output(ap, tc, hn, b0, b1, H); });
    }
    ctx->save_for_backward({x, w_ih, w_hh, gates, hs, cs, tanh_c});
    auto y = hs.narrow(0, 1, T);
    return {y, hs[T], cs[T]};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w_ih = saved[1];
    const auto& w_hh = saved[2];
    const auto& gates = saved[3];
    const auto& hs = saved[4];
    const auto& cs = saved[5];
    const auto& tanh_c = saved[6];
    const auto T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
    auto dy = grads[0].contiguous();
    auto dh = grads[1].contiguous().clone();
    auto dc = grads[2].contiguous().clone();
    auto da = torch::empty({T, B, 4 * H}, x.options());
    for (auto t = T - 1; t >= 0; --t) {
      auto dat = da[t];
      const float* ap = gates[t].data_ptr<float>();
      const float* cp = cs[t].data_ptr<float>();
      const float* tc = tanh_c[t].data_ptr<float>();
      const float* yp = dy[t].data_ptr<float>();
      const float* hp = dh.data_ptr<float>();
      float* ccp = dc.data_ptr<float>();
      float* dp = dat.data_ptr<float>();
      over_rows(B, H, [&](std::int64_t b0, std::int64_t b1) { cell_backward(ap, cp, tc, yp, hp, ccp, dp, b0, b1, H); });
      matmul_into(dh, dat, w_hh, 0.0f);  // the gradient reaching h_{t-1}
    }
    auto da2 = da.view({T * B, 4 * H});
    Tensor dx, dw_ih, dw_hh, db;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty({T * B, I}, x.options());
      matmul_into(dx, da2, w_ih, 0.0f);
      dx = dx.view({T, B, I});
    }
    if (ctx->needs_input_grad(3)) {
      dw_ih = torch::empty_like(w_ih);
      matmul_into(dw_ih, da2.t(), x.view({T * B, I}), 0.0f);
    }
    if (ctx->needs_input_grad(4)) {
      dw_hh = torch::empty_like(w_hh);
      matmul_into(dw_hh, da2.t(), hs.narrow(0, 0, T).reshape({T * B, H}), 0.0f);
    }
    if (ctx->needs_input_grad(5) || ctx->needs_input_grad(6)) db = da2.sum(0);
    return {dx, dh, dc, dw_ih, dw_hh, db, db.defined() ? db.clone() : db};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> lstm_cell_step(const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0,
                                                       const torch::Tensor& w_ih, const torch::Tensor& w_hh,
                                                       const torch::Tensor& b_ih, const torch::Tensor& b_hh) {
  TORCH_CHECK(lstm_layer_supports(x), "lstm_cell_step: float CPU tensors only");
  torch::NoGradGuard ng;
  const auto B = x.size(0), H = w_hh.size(1);
  auto a = torch::empty({B, 4 * H}, x.options());
  a.copy_(b_ih.unsqueeze(0).expand({B, 4 * H})).add_(b_hh);
  // The weights as transposed views, read in place: at a few rows a step is a matrix-vector
  // product bound by reading the weights, and oneDNN reads them at ~4x OpenBLAS's rate here.
  matmul_into(a, x.contiguous(), w_ih.t(), 1.0f);
  matmul_into(a, h0.contiguous(), w_hh.t(), 1.0f);
  a.narrow(1, 0, 2 * H).sigmoid_();
  a.narrow(1, 2 * H, H).tanh_();
  a.narrow(1, 3 * H, H).sigmoid_();
  auto c0c = c0.contiguous();
  auto c = torch::empty({B, H}, x.options());
  cell_forward(a.data_ptr<float>(), c0c.data_ptr<float>(), c.data_ptr<float>(), 0, B, H);
  auto h = torch::tanh(c);
  cell_output(a.data_ptr<float>(), h.data_ptr<float>(), h.data_ptr<float>(), 0, B, H);
  return {h, c};
}

bool lstm_layer_uses_onednn() {
#ifdef ARIOSO_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

bool lstm_layer_supports(const torch::Tensor& x) { return x.device().is_cpu() && x.scalar_type() == torch::kFloat; }

LstmLayerOutput lstm_layer(const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0,
                           const torch::Tensor& w_ih, const torch::Tensor& w_hh, const torch::Tensor& b_ih,
                           const torch::Tensor& b_hh) {
  TORCH_CHECK(lstm_layer_supports(x), "lstm_layer: float CPU tensors only");
  TORCH_CHECK(x.dim() == 3 && w_ih.size(1) == x.size(2) && w_hh.size(0) == 4 * w_hh.size(1), "lstm_layer: shapes do not match");
  auto r = LstmLayerFn::apply(x, h0.contiguous(), c0.contiguous(), w_ih.contiguous(), w_hh.contiguous(), b_ih, b_hh);
  return {r[0], r[1], r[2]};
}

}  // namespace arioso::model
