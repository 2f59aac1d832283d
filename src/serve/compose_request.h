// What a POST /api/compose asks for, read as a pure function of its body (tested without
// sockets): a JSON object, or a multipart form whose fields are settings, a "params" JSON
// object and an optional MIDI file ("primer"). Every setting is checked against the server's
// limits here; the server then gives the job its id and folder and, for "from", the song.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "generate/generate.h"
#include "generate/infill.h"

namespace arioso::serve {

/// A request the studio refuses: the HTTP status (400, 404, 413) and a message for the user.
class BadRequest : public std::runtime_error {
 public:
  BadRequest(int code, const std::string& what) : std::runtime_error(what), status(code) {}
  int status;
};

struct FormField {
  std::string name, filename, content;
};

/// The body as it came: JSON text, or (multipart) the form's fields in order.
struct RequestBody {
  bool multipart = false;
  std::string text;               ///< not multipart: the body ("" = no settings)
  std::vector<FormField> fields;  ///< multipart
};

struct RequestLimits {
  std::vector<std::string> runs;  ///< the runs served; the first is the default
  int max_bars = 64;
  double max_seconds = 180;
  std::size_t max_upload_bytes = 1000000;
  std::uint64_t default_seed = 0;  ///< the seed when the request gives none
};

struct ComposeRequest {
  std::string run;
  std::string mode = "compose";     ///< compose | open (a song as it is) | infill | accompany
  generate::GenerateOptions g;      ///< compose; its sampling settings also fill `fill`
  generate::InfillOptions fill;     ///< infill and accompany
  nlohmann::json params;            ///< the settings as given, with run, seed and an upload's name
  std::optional<FormField> upload;  ///< compose: the primer; the other modes: the song (a MIDI file with notes)
  std::string from;                 ///< a song mode without upload: the id of a finished piece
};

/// Throws BadRequest naming the setting that is unknown, of the wrong type or out of range.
ComposeRequest parse_compose_request(const RequestBody& body, const RequestLimits& limits);

/// Refuses bytes that are not a MIDI file with notes, naming the field ("primer", "song") and the file.
void check_midi_upload(const std::string& content, const std::string& field, const std::string& name);

}  // namespace arioso::serve
