// Message formatting shared by ParseError and lenient-mode diagnostics.
#include "core/error.h"

#include <fmt/format.h>

namespace arioso {

std::string format_location(const std::string& path, std::size_t offset, int track) {
  std::string out = fmt::format("{}:{:#x}: ", path.empty() ? "<memory>" : path, offset);
  if (track >= 0) out += fmt::format("track {}: ", track);
  return out;
}

ParseError::ParseError(const std::string& path, std::size_t offset, int track, const std::string& what)
    : Error(format_location(path, offset, track) + what), path_(path), offset_(offset), track_(track) {}

}  // namespace arioso
