// Core helpers: the OpenBLAS kernel choice never overrides a preset OPENBLAS_CORETYPE and its
// self-test passes for the kernels OpenBLAS picks itself; MIDI discovery order; atomic writes.
#include <cstdlib>
#include <filesystem>

#include "core/blas.h"
#include "core/error.h"
#include "core/files.h"
#include "test_util.h"

using namespace arioso;

TEST(Blas, NeverOverridesAPresetCoretype) {
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  std::string saved = before ? before : "";
  setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  BlasChoice c = configure_openblas();
  EXPECT_EQ(std::string(std::getenv("OPENBLAS_CORETYPE")), "Haswell");
  if (!c.library.empty()) {
    EXPECT_EQ(c.preset_env, "Haswell");
    EXPECT_EQ(c.chosen, "");
    EXPECT_EQ(c.note, "OPENBLAS_CORETYPE is set; left as it is");
  }
  if (saved.empty()) unsetenv("OPENBLAS_CORETYPE");
  else setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
}

TEST(Blas, ChoiceWithoutPresetIsSelfTested) {
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  std::string saved = before ? before : "";
  unsetenv("OPENBLAS_CORETYPE");
  BlasChoice c = configure_openblas();
  if (c.library.empty()) GTEST_SKIP() << "no OpenBLAS on this machine";
  EXPECT_FALSE(c.detected_core.empty());
  if (!c.chosen.empty()) {
    EXPECT_TRUE(c.self_test_ok);
    EXPECT_EQ(std::string(std::getenv("OPENBLAS_CORETYPE")), c.chosen);
    unsetenv("OPENBLAS_CORETYPE");
  }
  if (!saved.empty()) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
}

TEST(Files, MidiDiscoveryOrderAndAtomicWrite) {
  std::string dir = test::temp_dir("files");
  std::filesystem::create_directories(dir + "/b");
  for (const char* f : {"/Zeta.MID", "/alpha.mid", "/b/Beta.midi", "/notes.txt"}) write_file_atomic(dir + f, std::string("x"));
  auto files = find_midi_files({dir});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], dir + "/alpha.mid");
  EXPECT_EQ(files[1], dir + "/b/Beta.midi");
  EXPECT_EQ(files[2], dir + "/Zeta.MID");
  EXPECT_THROW_MSG(find_midi_files({dir + "/missing"}), Error, dir + "/missing: no such file or folder");
  write_file_atomic(dir + "/alpha.mid", std::string("new"));
  EXPECT_EQ(read_file_bytes(dir + "/alpha.mid").size(), 3u);
  for (const auto& e : std::filesystem::directory_iterator(dir)) EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
  std::filesystem::remove_all(dir);
}
