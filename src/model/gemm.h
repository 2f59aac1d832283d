// Float matrix products on the CPU through oneDNN's sgemm where arioso was built with it
// (libdnnl-dev), else libtorch's BLAS: its kernels follow the CPU's instruction sets (AVX-512
// where there is AVX-512) and ran 1.7-1.9x OpenBLAS's here (bench/RESULTS.md). oneDNN runs on
// libtorch's OpenMP threads (torch::set_num_threads).
#pragma once
#include <torch/torch.h>

namespace arioso::model {

/// c = a b + beta c for 2-D float tensors; c contiguous, a and b contiguous or transposed views.
void matmul_into(torch::Tensor& c, const torch::Tensor& a, const torch::Tensor& b, float beta);

/// A linear layer, x (..., I) w^T (O, I) + b (O; undefined: none), differentiable with respect
/// to all three; products through matmul_into on float CPU tensors, libtorch's otherwise.
torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

}  // namespace arioso::model
