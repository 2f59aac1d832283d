// See request_policy.h. Header values are compared case-insensitively where HTTP says so
// (host names, media types), and a port in Host or Origin must be the server's own.
#include "serve/request_policy.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace arioso::serve {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

/// Splits "name:port" or "[v6]:port" into a lower-case name (brackets kept) and a port (-1: none, -2: bad).
std::pair<std::string, int> split_authority(const std::string& authority) {
  std::string a = lower(trim(authority));
  std::size_t colon = a.rfind(':');
  if (colon == std::string::npos || (a[0] == '[' && a.back() == ']')) return {a, -1};
  std::string port = a.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return {a, -2};
  }
  return {a.substr(0, colon), std::stoi(port)};
}

bool known_host(const RequestPolicy& p, const std::string& name) {
  return std::find(p.hosts.begin(), p.hosts.end(), name) != p.hosts.end();
}

}  // namespace

RequestPolicy RequestPolicy::for_server(const std::string& bound_host, int port, const std::vector<std::string>& extra) {
  RequestPolicy p;
  p.port = port;
  p.hosts = {"127.0.0.1", "localhost", "[::1]"};
  std::string b = lower(bound_host);
  if (b.find(':') != std::string::npos && b.front() != '[') b = "[" + b + "]";
  if (b != "0.0.0.0" && b != "[::]" && !b.empty()) p.hosts.push_back(b);
  for (const auto& e : extra) {
    std::string x = lower(trim(e));
    if (x.find(':') != std::string::npos && x.front() != '[') x = "[" + x + "]";
    if (!x.empty()) p.hosts.push_back(x);
  }
  return p;
}

std::optional<Refusal> check_request(const RequestPolicy& policy, const std::string& method, const std::string& host,
                                     const std::string& origin, const std::string& content_type) {
  if (trim(host).empty()) return Refusal{400, "the request has no Host header"};
  auto [name, port] = split_authority(host);
  if (!known_host(policy, name) || port == -2 || (port == -1 ? 80 : port) != policy.port) {
    return Refusal{403, fmt::format("Host '{}' is not a name this studio is served under (start it with --allow-host NAME to add one)", trim(host))};
  }
  const bool changes_state = method != "GET" && method != "HEAD" && method != "OPTIONS";
  if (!changes_state) return std::nullopt;
  if (!origin.empty()) {
    // Browsers send Origin on every cross-origin request that changes state; "null" is an
    // opaque origin (a sandboxed frame, a file:// page).
    std::string o = lower(trim(origin));
    const std::string scheme = "http://";
    bool ours = false;
    if (o.compare(0, scheme.size(), scheme) == 0) {
      auto [oname, oport] = split_authority(o.substr(scheme.size()));
      ours = known_host(policy, oname) && (oport == policy.port || (oport == -1 && policy.port == 80));
    }
    if (!ours) return Refusal{403, fmt::format("Origin '{}' is not this studio's: requests that change state must come from its own page", trim(origin))};
  }
  std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type != "application/json" && type != "multipart/form-data") {
    return Refusal{415, fmt::format("Content-Type '{}' is not accepted: send application/json or multipart/form-data",
                                    trim(content_type))};
  }
  return std::nullopt;
}

}  // namespace arioso::serve
