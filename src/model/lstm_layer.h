// One LSTM layer over a whole window, forward and backward written out by hand for float
// tensors on the CPU: the training path of the LSTM model. It computes what torch::nn::LSTM
// computes (gates i, f, g, o; the same parameters, so checkpoints are interchangeable) with
// fewer, larger matrix products:
//   forward   the input projections of all T steps in one product, then per step one
//             (B, H) x (H, 4H) product and the gate arithmetic in two passes;
//   backward  per step only the (B, 4H) x (4H, H) product that carries the gradient back in
//             time; the weight gradients and the input gradient are one product each over
//             all T x B rows (libtorch's autograd makes one small product per step for them).
// No tensor is created per step. Other devices and types use torch::nn::LSTM.
#pragma once
#include <torch/torch.h>

namespace arioso::model {

struct LstmLayerOutput {
  torch::Tensor y;   ///< (T, B, H) hidden states of every step
  torch::Tensor hn;  ///< (B, H) last hidden state
  torch::Tensor cn;  ///< (B, H) last cell state
};

/// x (T, B, I) time-major; h0, c0 (B, H); w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H), in
/// torch::nn::LSTM's layout and gate order. Differentiable with respect to every input.
LstmLayerOutput lstm_layer(const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0,
                           const torch::Tensor& w_ih, const torch::Tensor& w_hh, const torch::Tensor& b_ih,
                           const torch::Tensor& b_hh);

/// One step of one layer for generation (no gradients): x (B, I), h0, c0 (B, H) -> {h, c}.
/// The same arithmetic as lstm_layer, reading the weights where they are.
std::pair<torch::Tensor, torch::Tensor> lstm_cell_step(const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0,
                                                       const torch::Tensor& w_ih, const torch::Tensor& w_hh,
                                                       const torch::Tensor& b_ih, const torch::Tensor& b_hh);

/// Whether the layer's products run on oneDNN (built with libdnnl-dev) rather than libtorch's BLAS.
bool lstm_layer_uses_onednn();

/// Whether lstm_layer handles tensors like `x` (float on the CPU); otherwise use torch::nn::LSTM.
bool lstm_layer_supports(const torch::Tensor& x);

}  // namespace arioso::model
