// Which HTTP requests the studio answers at all, as a pure function of their headers (tested
// without sockets). A web page open in the user's browser must not be able to use the studio:
// Host must be a name the server is reached by (DNS rebinding), a state-changing request must
// come from the studio's own origin or from no browser at all (cross-site form posts), and a
// body must be JSON or a multipart form (a text/plain post needs no CORS preflight).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace arioso::serve {

struct RequestPolicy {
  int port = 0;                           ///< the port the server listens on
  std::vector<std::string> hosts;         ///< names it is reached by, without port (lower case)
  /// Loopback names, the bound address (unless a wildcard) and `extra` (--allow-host).
  static RequestPolicy for_server(const std::string& bound_host, int port, const std::vector<std::string>& extra);
};

struct Refusal {
  int status = 0;        ///< 400, 403 or 415
  std::string message;   ///< what is wrong, for the JSON error body
};

/// nullopt when the request may go on; else the status and message it is refused with.
/// `host`, `origin` and `content_type` are the header values ("" when absent).
std::optional<Refusal> check_request(const RequestPolicy& policy, const std::string& method, const std::string& host,
                                     const std::string& origin, const std::string& content_type);

}  // namespace arioso::serve
