// See blas.h. Probing happens in forked children so that the parent never loads OpenBLAS
// with the wrong kernels (OpenBLAS picks its kernels once, when it is loaded).
#include "core/blas.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace arioso {

namespace {

BlasChoice g_choice;

const char* kLibraries[] = {"libopenblas.so.0", "libblas.so.3"};

using CorenameFn = char* (*)();
using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

/// In a child: loads the BLAS, writes "library\ncore\nstatus" to `fd`; status 1 = the product
/// matched a double-precision reference.
[[noreturn]] void child_probe(int fd, bool self_test) {
  std::string out = "\n\n0";
  for (const char* name : kLibraries) {
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    auto corename = reinterpret_cast<CorenameFn>(dlsym(h, "openblas_get_corename"));
    if (!corename) continue;
    std::string core = corename();
    int ok = 0;
    double gflops = 0;
    if (self_test) {
      auto sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "sgemm_"));
      if (sgemm) {
        const int m = 67, n = 45, k = 129;
        std::vector<float> a(m * k), b(k * n), c(m * n, 0.f);
        for (int i = 0; i < m * k; ++i) a[i] = static_cast<float>(std::sin(0.37 * i));
        for (int i = 0; i < k * n; ++i) b[i] = static_cast<float>(std::cos(0.11 * i));
        float one = 1.f, zero = 0.f;
        sgemm("N", "N", &m, &n, &k, &one, a.data(), &m, b.data(), &k, &zero, c.data(), &m);
        double worst = 0;
        for (int j = 0; j < n; ++j) {
          for (int i = 0; i < m; ++i) {
            double ref = 0;
            for (int p = 0; p < k; ++p) ref += static_cast<double>(a[i + p * m]) * b[p + j * k];
            worst = std::max(worst, std::abs(ref - c[i + j * m]) / (1.0 + std::abs(ref)));
          }
        }
        constexpr double kTolerance = 1e-4;  // float32 accumulation over k=129 terms
        ok = worst < kTolerance ? 1 : 0;
        // Speed: a 192^3 product, best of 5 (single thread).
        const int s = 192;
        std::vector<float> x(s * s, 0.5f), y(s * s, 0.25f), z(s * s);
        double best = 1e9;
        for (int rep = 0; rep < 5; ++rep) {
          auto t0 = std::chrono::steady_clock::now();
          sgemm("N", "N", &s, &s, &s, &one, x.data(), &s, y.data(), &s, &zero, z.data(), &s);
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        gflops = 2.0 * s * s * s / best / 1e9;
      }
    }
    out = std::string(name) + "\n" + core + "\n" + std::to_string(ok) + "\n" + std::to_string(gflops);
    break;
  }
  ssize_t w = write(fd, out.data(), out.size());
  (void)w;
  _exit(0);
}

struct ProbeResult {
  std::string library, core;
  bool ok = false;
  double gflops = 0;
};

ProbeResult probe(const char* coretype, bool self_test) {
  ProbeResult r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return r;
  }
  if (pid == 0) {
    close(fds[0]);
    if (coretype) setenv("OPENBLAS_CORETYPE", coretype, 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    child_probe(fds[1], self_test);
  }
  close(fds[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return r;  // the kernels crashed: not ok
  std::istringstream in(text);
  std::string ok;
  std::getline(in, r.library);
  std::getline(in, r.core);
  std::getline(in, ok);
  r.ok = ok == "1";
  std::string g;
  if (std::getline(in, g) && !g.empty()) r.gflops = std::atof(g.c_str());
  return r;
}

std::string cpu_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "";
}

bool has_flag(const std::string& flags, const char* flag) {
  std::istringstream in(flags);
  std::string f;
  while (in >> f) {
    if (f == flag) return true;
  }
  return false;
}

}  // namespace

BlasChoice configure_openblas() {
  BlasChoice c;
  c.cpu_model = cpu_field("model name");
  const char* preset = std::getenv("OPENBLAS_CORETYPE");
  ProbeResult base = probe(nullptr, false);
  c.library = base.library;
  c.detected_core = base.core;
  if (preset && *preset) {
    c.preset_env = preset;
    c.note = "OPENBLAS_CORETYPE is set; left as it is";
    g_choice = c;
    return c;
  }
  if (base.library.empty()) {
    c.note = "no OpenBLAS found; libtorch uses whatever BLAS it was built with";
    g_choice = c;
    return c;
  }
  static const char* kGeneric[] = {"Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Core2", "Penryn",
                                   "Dunnington", "Nehalem", "Atom", "unknown"};
  bool generic = false;
  for (const char* g : kGeneric) generic = generic || base.core == g;
  std::string flags = cpu_field("flags");
  bool avx512 = has_flag(flags, "avx512f") && has_flag(flags, "avx512bw") && has_flag(flags, "avx512vl") &&
                has_flag(flags, "avx512dq");
  std::vector<const char*> candidates;
  auto same = [](const std::string& a, const char* b) { return strcasecmp(a.c_str(), b) == 0; };
  if (avx512 && !same(base.core, "SkylakeX") && !same(base.core, "CooperLake") && !same(base.core, "SapphireRapids")) {
    candidates.push_back("SkylakeX");
  }
  if (generic && has_flag(flags, "avx2") && has_flag(flags, "fma")) candidates.push_back("Haswell");
  if (generic && has_flag(flags, "avx")) candidates.push_back("SandyBridge");
  if (candidates.empty()) {
    c.note = "OpenBLAS chose " + base.core + " kernels, the best this CPU supports";
    g_choice = c;
    return c;
  }
  // Measure OpenBLAS's own choice against each candidate; keep the fastest that computes right.
  ProbeResult own = probe(nullptr, true);
  c.baseline_gflops = own.gflops;
  for (const char* cand : candidates) {
    ProbeResult r = probe(cand, true);
    if (!r.ok || r.core != cand) continue;
    constexpr double kMinGain = 1.15;  // switch only for a clear gain: timings are noisy
    if (generic || !own.ok || r.gflops > kMinGain * own.gflops) {
      setenv("OPENBLAS_CORETYPE", cand, 1);
      c.chosen = cand;
      c.chosen_gflops = r.gflops;
      c.self_test_ok = true;
      c.note = fmt::format("OpenBLAS chose {} kernels ({:.0f} GFLOP/s); {} kernels passed the self-test at {:.0f} GFLOP/s and are used",
                           base.core, own.gflops, cand, r.gflops);
      g_choice = c;
      return c;
    }
    c.note = fmt::format("OpenBLAS chose {} kernels ({:.0f} GFLOP/s); {} measured {:.0f} GFLOP/s, not enough faster to switch",
                         base.core, own.gflops, cand, r.gflops);
  }
  if (c.note.empty()) c.note = "OpenBLAS uses " + base.core + " kernels; no other kernels passed the self-test";
  g_choice = c;
  return c;
}


bool set_blas_threads(int threads) {
  using SetFn = void (*)(int);
  auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!fn) {
    for (const char* name : kLibraries) {
      void* h = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
      if (h && (fn = reinterpret_cast<SetFn>(dlsym(h, "openblas_set_num_threads")))) break;
    }
  }
  if (!fn) return false;
  fn(threads);
  return true;
}

}  // namespace arioso
