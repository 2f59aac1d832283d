// Helpers shared by the tests: building MIDI bytes by hand, running reference tools, and
// finding optional data (../shared, the default corpus) that tests skip cleanly without.
#pragma once
#include <cstdint>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#define EXPECT_THROW_MSG(stmt, type, msg)                     \
  do {                                                        \
    try {                                                     \
      stmt;                                                   \
      ADD_FAILURE() << "no exception: " #stmt;                \
    } catch (const type& e) {                                 \
      EXPECT_EQ(std::string(e.what()), std::string(msg));     \
    }                                                         \
  } while (0)

namespace arioso::test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes be32(std::uint32_t v) { return {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)}; }

/// MThd chunk with the given fields.
inline Bytes header(int format, int ntracks, int division) {
  Bytes b = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, std::uint8_t(format), 0, std::uint8_t(ntracks),
             std::uint8_t(division >> 8), std::uint8_t(division)};
  return b;
}
/// MTrk chunk around `body` (length from the body unless `len` is given).
inline Bytes track(const Bytes& body, long len = -1) {
  Bytes b = {'M', 'T', 'r', 'k'};
  Bytes l = be32(len < 0 ? std::uint32_t(body.size()) : std::uint32_t(len));
  b.insert(b.end(), l.begin(), l.end());
  b.insert(b.end(), body.begin(), body.end());
  return b;
}
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// ../shared next to the checkout, or "" when absent (a user's fresh clone).
inline std::string shared_dir() {
  std::filesystem::path p = std::filesystem::path(ARIOSO_SOURCE_DIR) / ".." / "shared";
  return std::filesystem::exists(p / "SEED.md") ? p.string() : "";
}

/// Runs a command and returns its stdout; empty on failure.
inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

/// Runs a reference script (/usr/bin/python3) over files; one JSON document per output line.
inline std::vector<nlohmann::json> run_reference(const std::string& script, const std::vector<std::string>& files) {
  std::string cmd = "/usr/bin/python3 '" + script + "'";
  for (const auto& f : files) cmd += " '" + f + "'";
  std::istringstream out(run_capture(cmd));
  std::vector<nlohmann::json> docs;
  std::string line;
  while (std::getline(out, line)) docs.push_back(nlohmann::json::parse(line));
  return docs;
}

inline bool have_mido() { return std::system("/usr/bin/python3 -c 'import mido' >/dev/null 2>&1") == 0; }

inline std::vector<std::string> default_corpus_dirs() {
  std::vector<std::string> out;
  for (const char* d : {"/usr/share/games/simutrans/music", "/usr/share/games/openttd/baseset/openmsx"}) {
    if (std::filesystem::is_directory(d)) out.push_back(d);
  }
  return out;
}

/// Every real MIDI file at hand: the default corpus and ../shared's seed corpus (may be empty).
inline std::vector<std::string> real_midi_inputs() {
  std::vector<std::string> inputs = default_corpus_dirs();
  if (!shared_dir().empty()) inputs.push_back(shared_dir() + "/data/seed-midi");
  return inputs;
}

/// The folders temp_dir made, removed when the test program ends (tests that fail too: what
/// they wrote is in their messages, and a run of the suite leaves nothing in /tmp).
struct TempDirs {
  std::vector<std::filesystem::path> paths;
  pid_t owner = ::getpid();
  ~TempDirs() {
    if (::getpid() != owner) return;  // a forked child leaves its parent's folders alone
    for (const auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  }
};

inline std::string temp_dir(const std::string& name) {
  static TempDirs made;
  auto p = std::filesystem::temp_directory_path() / ("arioso-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  made.paths.push_back(p);
  return p.string();
}

}  // namespace arioso::test
