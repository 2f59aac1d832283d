// OpenBLAS kernel selection. Debian's OpenBLAS 0.3.21 does not know recent CPUs and falls back
// to its slowest ("Prescott") kernels; this picks the right ones through OPENBLAS_CORETYPE
// before libtorch (and so OpenBLAS) is loaded, after a self-test of a matrix product.
#pragma once
#include <string>

namespace arioso {

/// What configure_openblas() found and did.
struct BlasChoice {
  std::string library;        ///< the BLAS shared library that answered, "" if none found
  std::string detected_core;  ///< core name OpenBLAS chose by itself ("Prescott", "SkylakeX", ...)
  std::string cpu_model;      ///< /proc/cpuinfo "model name"
  std::string preset_env;     ///< OPENBLAS_CORETYPE found in the environment ("" if unset)
  std::string chosen;         ///< value we set, "" if we set nothing
  bool self_test_ok = false;
  double baseline_gflops = 0; ///< single-thread sgemm speed of OpenBLAS's own choice (0 = not measured)
  double chosen_gflops = 0;   ///< the same for the kernels we chose  ///< the chosen kernels computed a product within tolerance
  std::string note;           ///< one line of explanation
};

/// Detects OpenBLAS's core and, if it fell back to generic kernels on a CPU with AVX2 or
/// AVX-512, sets OPENBLAS_CORETYPE for this process after checking the better kernels in a
/// child process. Never overrides an OPENBLAS_CORETYPE that is already set. Call before any
/// BLAS is loaded. Never throws.
BlasChoice configure_openblas();

/// Sets the number of OpenBLAS threads at run time (openblas_set_num_threads, found in the
/// loaded process); returns false when no OpenBLAS is loaded. Measured here: libtorch's own
/// intra-op pool and OpenBLAS's pthread pool both default to every core, and together they
/// oversubscribe (2+2 threads on 2 cores ran the seed LSTM at 914 tokens/s against 2,008 with
/// one libtorch thread and two OpenBLAS threads): arioso gives the cores to OpenBLAS.
bool set_blas_threads(int threads);

}  // namespace arioso
