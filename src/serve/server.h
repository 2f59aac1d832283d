// `arioso serve` as a library: an HTTP server (cpp-httplib) with the studio page and a JSON API
// over the run folders it is given. Composition runs on one worker thread behind a bounded
// queue; each piece gets a folder of its own (MIDI, WAV, PNG, notes.json, analysis.json) under
// the data folder, whose total size is capped by removing the oldest pieces. Request paths never
// name files: runs are looked up by name among those served, pieces by id, files from a fixed
// list, and the page is compiled into the binary.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arioso::serve {

struct ServeOptions {
  std::vector<std::string> runs;       ///< run folders from `arioso train`
  std::string host = "127.0.0.1";
  std::vector<std::string> allowed_hosts;  ///< Host names served besides loopback and `host` (--allow-host)
  int port = 8765;                     ///< 0: any free port (see Server::port())
  std::string data_dir;                ///< where pieces are kept; "" = a fresh folder under /tmp, removed at exit
  std::size_t queue_capacity = 8;      ///< compose requests waiting; more get 503
  std::uint64_t max_storage_bytes = 256000000;
  std::size_t max_upload_bytes = 1000000;  ///< largest primer MIDI
  int max_bars = 64;
  double max_seconds = 180;
  std::string soundfont;               ///< "" = Debian's default General MIDI soundfont
  int threads = 0;                     ///< cores for composing (0 = all), as `train --threads`
};

class Server {
 public:
  /// Reads the runs' configurations; throws ConfigError naming a folder that is not a run.
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the socket; throws Error if the address cannot be used. Returns the port.
  int bind();
  int port() const;
  /// Serves until stop() (from any thread). Call bind() first.
  void listen();
  void stop();
  /// Test hook: while paused the worker starts no new piece (the queue only fills).
  void set_paused(bool paused);
  const std::string& data_dir() const;
  /// One line per request (method, path, status, milliseconds), for the terminal.
  void set_log(std::function<void(const std::string&)> log);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arioso::serve
