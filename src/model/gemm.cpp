// Float matrix products through oneDNN, and a linear layer built on them; see gemm.h.
#include "model/gemm.h"

#include <algorithm>

#ifdef ARIOSO_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace arioso::model {

namespace {

using torch::Tensor;

#ifdef ARIOSO_HAVE_DNNL
/// A 2-D float tensor as a row-major BLAS operand: 'N' with its row stride, or 'T' (a
/// transposed view) with its column stride. False for other layouts.
bool as_operand(const Tensor& t, char& trans, std::int64_t& ld) {
  const auto r = t.size(0), c = t.size(1), s0 = t.stride(0), s1 = t.stride(1);
  if ((s1 == 1 || c <= 1) && (r <= 1 || s0 >= std::max<std::int64_t>(c, 1))) {
    trans = 'N', ld = std::max({s0, c, std::int64_t{1}});
    return true;
  }
  if ((s0 == 1 || r <= 1) && (c <= 1 || s1 >= std::max<std::int64_t>(r, 1))) {
    trans = 'T', ld = std::max({s1, r, std::int64_t{1}});
    return true;
  }
  return false;
}
#endif

}  // namespace

/// c = a b + beta c for float matrices, c contiguous. Through oneDNN's sgemm where arioso was
/// built with it: its kernels are chosen by the CPU's instruction sets (AVX-512 where there is
/// AVX-512), while OpenBLAS picks them from a table of CPU models, which may not know the CPU
/// or be pinned by OPENBLAS_CORETYPE; on this project's machines oneDNN's single-thread
/// products ran 1.9x OpenBLAS's (bench/RESULTS.md). Otherwise libtorch's mm (its BLAS).
void matmul_into(torch::Tensor& c, const torch::Tensor& a, const torch::Tensor& b, float beta) {
#ifdef ARIOSO_HAVE_DNNL
  char ta = 'N', tb = 'N';
  std::int64_t lda = 0, ldb = 0;
  if (c.is_contiguous() && a.size(0) > 0 && b.size(1) > 0 && a.size(1) > 0 && as_operand(a, ta, lda) && as_operand(b, tb, ldb)) {
    auto st = dnnl_sgemm(ta, tb, a.size(0), b.size(1), a.size(1), 1.0f, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb,
                         beta, c.data_ptr<float>(), std::max<std::int64_t>(c.size(1), 1));
    TORCH_CHECK(st == dnnl_success, "oneDNN sgemm failed with status ", static_cast<int>(st));
    return;
  }
#endif
  if (beta == 0.0f) {
    torch::mm_out(c, a, b);
  } else {
    c.mul_(beta).addmm_(a, b);
  }
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// y = x w^T + b over rows of x (N, I), w (O, I), b (O) or empty (none); backward: dx = dy w,
/// dw = dy^T x, db = the column sums of dy. Every product one call.
class DenseFn : public torch::autograd::Function<DenseFn> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
    auto y = torch::empty({x.size(0), w.size(0)}, x.options());
    matmul_into(y, x, w.t(), 0.0f);
    if (b.numel() > 0) y.add_(b);
    ctx->save_for_backward({x, w});
    return {y};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    auto dy = grads[0].contiguous();
    Tensor dx, dw = torch::empty_like(w);
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty_like(x);
      matmul_into(dx, dy, w, 0.0f);
    }
    matmul_into(dw, dy.t(), x, 0.0f);
    Tensor db = ctx->needs_input_grad(2) ? dy.sum(0) : Tensor();
    return {dx, dw, db};
  }
};

}  // namespace

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat) {
    return torch::nn::functional::linear(x, w, b);  // an undefined bias is none
  }
  auto sizes = x.sizes().vec();
  auto rows = x.reshape({-1, x.size(-1)}).contiguous();
  // Autograd takes no undefined inputs: no bias is an empty one.
  auto y = DenseFn::apply(rows, w.contiguous(), b.defined() ? b : torch::empty({0}, x.options()))[0];
  sizes.back() = w.size(0);
  return y.view(sizes);
}

}  // namespace arioso::model
