// File helpers; see files.h.
#include "core/files.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "core/error.h"

namespace fs = std::filesystem;

namespace arioso {

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::vector<std::uint8_t> out;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw Error(fmt::format("{}: read error", path));
  return out;
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  std::string tmp = fmt::format("{}.tmp-{}", path, static_cast<long>(getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(fmt::format("{}: cannot write: {}", tmp, std::strerror(errno)));
  bool ok = std::fwrite(data, 1, size, f) == size;
  ok = (std::fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
}

std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

static bool is_midi_name(const fs::path& p) {
  std::string ext = lower(p.extension().string());
  return ext == ".mid" || ext == ".midi";
}

std::vector<std::string> find_midi_files(const std::vector<std::string>& inputs) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->is_regular_file(ec) && is_midi_name(it->path())) {
          if (seen.insert(it->path().string()).second) out.push_back(it->path().string());
        }
      }
    } else if (fs::exists(in, ec)) {
      if (seen.insert(in).second) out.push_back(in);
    } else {
      throw Error(fmt::format("{}: no such file or folder", in));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    std::string la = lower(a), lb = lower(b);
    return la != lb ? la < lb : a < b;
  });
  return out;
}

}  // namespace arioso
