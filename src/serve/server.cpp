// The studio's server; see server.h. Handlers validate and answer at once; the one worker
// thread composes, renders and analyses, in the order requests came.
#include "serve/server.h"
#include "serve/request_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "data/run_folder.h"
#include "eval/analyze.h"
#include "generate/generate.h"
#include "midi/midi_file.h"
#include "music/instruments.h"
#include "music/score.h"
#include "render/render.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace arioso::serve {

namespace {

#include "serve/web_assets.inc"  // kIndexHtml, kAppJs, kStyleCss: the page, compiled in

using Clock = std::chrono::steady_clock;

// Files a piece folder may hold, and their types: the only names a request can ask for.
const std::map<std::string, std::string> kPieceFiles = {
    {"piece.mid", "audio/midi"}, {"piece.wav", "audio/wav"}, {"piece.png", "image/png"},
    {"notes.json", "application/json"}, {"analysis.json", "application/json"}};

struct Run {
  std::string name, dir;
  json config, info;
  std::unique_ptr<generate::Generator> generator;  // loaded by the worker on first use
  std::unique_ptr<eval::PieceSet> reference;       // the corpus's pieces with their metrics
  bool reference_tried = false;
};

struct Job {
  std::string id, run;
  std::string mode = "compose";  // compose | open (a song as it is) | infill | accompany (of the song)
  generate::GenerateOptions g;
  generate::InfillOptions fill;
  json params;
  std::string dir;
  std::string status = "queued";  // queued | running | done | failed
  std::string stage = "waiting in the queue";
  double progress = 0;
  std::string error;
  json summary;
  double seconds_taken = 0;
  std::uint64_t bytes = 0;
  Clock::time_point created = Clock::now();
};

class BadRequest : public std::runtime_error {
 public:
  BadRequest(int code, const std::string& what) : std::runtime_error(what), status(code) {}
  int status;
};

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) { send_json(res, status, {{"error", message}}); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string new_id() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  return fmt::format("{:016x}", rng());
}

// A number from a JSON value or a form field's text; BadRequest when it is neither.
double number(const json& v, const std::string& name) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(x)) return x;
  }
  throw BadRequest(400, fmt::format("{}: expected a number, got {}", name, v.dump()));
}

double in_range(const json& p, const std::string& name, double fallback, double lo, double hi) {
  if (!p.contains(name) || p[name].is_null() || (p[name].is_string() && p[name].get<std::string>().empty())) return fallback;
  double x = number(p[name], name);
  if (x < lo || x > hi) throw BadRequest(400, fmt::format("{} = {}: must be between {} and {}", name, x, lo, hi));
  return x;
}

// Refuses bytes that are not a MIDI file with notes, naming the field ("primer", "song") and the file.
void check_midi_upload(const std::string& content, const std::string& field, const std::string& name) {
  try {
    std::vector<std::uint8_t> bytes(content.begin(), content.end());
    midi::ReadOptions ro;
    ro.path = name;
    if (midi::extract_notes(midi::read_midi(bytes, ro)).empty()) throw BadRequest(400, fmt::format("{} '{}': a MIDI file without notes", field, name));
  } catch (const Error& e) {
    throw BadRequest(400, fmt::format("{} is not a MIDI file: {}", field, e.what()));
  }
}

}  // namespace

struct Server::Impl {
  ServeOptions o;
  httplib::Server http;
  int port = 0;
  RequestPolicy policy;  // set by bind(), once the port is known
  std::map<std::string, std::unique_ptr<Run>> runs;
  std::vector<std::string> run_order;
  std::string data_dir;

  std::mutex mu;
  std::mutex mix_mu;  // mix.wav renderings
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;
  std::map<std::string, std::shared_ptr<Job>> jobs;
  std::deque<std::string> finished;  // oldest first, for the storage cap
  std::uint64_t stored_bytes = 0;
  double mean_job_s = 5;
  bool paused = false, stopping = false;
  std::thread worker;
  std::function<void(const std::string&)> log;

  explicit Impl(ServeOptions options) : o(std::move(options)) {
    if (o.runs.empty()) throw ConfigError("serve: give at least one run folder (from 'arioso train')");
    for (const auto& dir : o.runs) {
      auto run = std::make_unique<Run>();
      run->dir = fs::absolute(dir).lexically_normal().string();
      if (!data::RunFolder{dir}.holds_run()) {
        throw ConfigError(fmt::format("{}: not a run folder (config.json and best.pt or last.pt expected)", dir));
      }
      run->config = data::read_json_file(data::RunFolder{dir}.config());
      std::string name = fs::path(run->dir).filename().string();
      if (name.empty()) name = "run";
      std::string unique = name;
      for (int k = 2; runs.count(unique); ++k) unique = fmt::format("{}-{}", name, k);
      run->name = unique;
      run->info = run_info(*run);
      run_order.push_back(unique);
      runs[unique] = std::move(run);
    }
    data_dir = o.data_dir;
    if (data_dir.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "arioso-serve-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) throw Error("serve: cannot make a folder under " + fs::temp_directory_path().string());
      data_dir = tmpl;
    }
    fs::create_directories(data_dir + "/pieces");
    routes();
    worker = std::thread([this] { work(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    cv.notify_all();
    http.stop();
    if (worker.joinable()) worker.join();
    std::error_code ec;
    if (o.data_dir.empty()) fs::remove_all(data_dir, ec);  // a folder of our own under /tmp
  }

  json run_info(const Run& r) const {
    const json& c = r.config;
    json j{{"name", r.name}, {"model", c.value("/model/arch"_json_pointer, "")}, {"preset", c.value("/model/preset"_json_pointer, "")},
           {"tokenizer", c.value("/tokenizer/name"_json_pointer, "")}, {"parameters", c.value("parameters", 0)},
           {"corpus", fs::path(c.value("corpus", "")).filename().string()}, {"world_size", c.value("world_size", 1)}};
    const auto rows = data::read_log(data::RunFolder{r.dir}.log());
    double best = NAN;
    for (const auto& row : rows) {
      if (!std::isnan(row.valid_nll) && !(best <= row.valid_nll)) best = row.valid_nll;
    }
    j["valid_nll"] = std::isnan(best) ? json(nullptr) : json(best);
    j["epochs"] = rows.size();
    return j;
  }

  // --- HTTP ---------------------------------------------------------------------------------

  void routes() {
    http.set_payload_max_length(o.max_upload_bytes + (64u << 10));
    // Before any route: refuse what a foreign web page could send (see request_policy.h).
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      auto refusal = check_request(policy, req.method, req.get_header_value("Host"), req.get_header_value("Origin"),
                                   req.get_header_value("Content-Type"));
      if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, refusal->status, refusal->message);
      return httplib::Server::HandlerResponse::Handled;
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kIndexHtml, "text/html; charset=utf-8"); });
    http.Get("/app.js", [](const httplib::Request&, httplib::Response& res) { res.set_content(kAppJs, "text/javascript; charset=utf-8"); });
    http.Get("/style.css", [](const httplib::Request&, httplib::Response& res) { res.set_content(kStyleCss, "text/css; charset=utf-8"); });
    http.Get("/api/runs", [this](const httplib::Request&, httplib::Response& res) {
      json list = json::array();
      for (const auto& n : run_order) list.push_back(runs.at(n)->info);
      send_json(res, 200, {{"runs", list}});
    });
    http.Get("/api/instruments", [](const httplib::Request&, httplib::Response& res) {
      json names = json::array();
      for (int p = 0; p < 128; ++p) names.push_back(music::program_name(p));
      send_json(res, 200, {{"programs", names}, {"drums", music::instrument_name(128)}});
    });
    http.Get(R"(/api/runs/([^/]+)/log)", [this](const httplib::Request& req, httplib::Response& res) {
      const Run* r = find_run(req.matches[1], res);
      if (!r) return;
      json info = run_info(*r);
      send_json(res, 200, {{"run", info}, {"epochs", data::log_json(data::read_log(data::RunFolder{r->dir}.log()))}, {"train", r->config.value("train", json::object())},
                           {"loss_png", fmt::format("/api/runs/{}/loss.png", r->name)}});
    });
    http.Get(R"(/api/runs/([^/]+)/loss\.png)", [this](const httplib::Request& req, httplib::Response& res) {
      const Run* r = find_run(req.matches[1], res);
      if (!r) return;
      if (!fs::exists(r->dir + "/loss.png")) return send_error(res, 404, fmt::format("run '{}' has no loss curve yet", r->name));
      res.set_content(read_text(r->dir + "/loss.png"), "image/png");
    });
    http.Post("/api/compose", [this](const httplib::Request& req, httplib::Response& res) { compose(req, res); });
    http.Get(R"(/api/pieces/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      auto job = find_job(req.matches[1], res);
      if (job) send_json(res, 200, describe(*job));
    });
    http.Get(R"(/api/pieces/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::string path, type;
      {
        std::lock_guard<std::mutex> lock(mu);
        auto job = find_job(req.matches[1], res);
        if (!job) return;
        const bool mix = req.matches[2] == "mix.wav";
        auto f = kPieceFiles.find(req.matches[2]);
        if (f == kPieceFiles.end() && !mix) return send_error(res, 404, fmt::format("no file '{}': a piece has piece.mid, piece.wav, piece.png, notes.json, analysis.json, mix.wav?parts=...", req.matches[2].str()));
        if (job->status != "done") return send_error(res, 409, fmt::format("piece {} is {}; its files come when it is done", job->id, job->status));
        if (mix) {
          path = job->dir;
        } else {
          path = job->dir + "/" + f->first;
          type = f->second;
        }
      }
      if (type.empty()) return send_mix(req, res, path);
      if (!fs::exists(path)) return send_error(res, 404, fmt::format("piece {} has no {}", req.matches[1].str(), req.matches[2].str()));
      res.set_content(read_text(path), type);
      if (type != "application/json") {
        res.set_header("Content-Disposition", fmt::format("inline; filename=\"arioso-{}{}\"", req.matches[1].str(), fs::path(path).extension().string()));
      }
    });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413) send_error(res, 413, "request too large (a primer MIDI may be at most the server's --max-upload)");
      else if (res.status == 404) send_error(res, 404, fmt::format("nothing at {} (the API is under /api: runs, instruments, compose, pieces)", req.path));
      else send_error(res, res.status, fmt::format("HTTP {}", res.status));
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_error(res, 500, what);
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (log) log(fmt::format("{} {} {}", req.method, req.path, res.status));
    });
  }

  const Run* find_run(const std::string& name, httplib::Response& res) {
    auto it = runs.find(name);
    if (it == runs.end()) {
      send_error(res, 404, fmt::format("unknown run '{}'; GET /api/runs lists the runs served", name));
      return nullptr;
    }
    return it->second.get();
  }

  std::shared_ptr<Job> find_job(const std::string& id, httplib::Response& res) {
    static const std::regex kId("[0-9a-f]{16}");
    if (!std::regex_match(id, kId)) {
      send_error(res, 400, "a piece id is 16 hexadecimal digits");
      return nullptr;
    }
    auto it = jobs.find(id);
    if (it == jobs.end()) {
      send_error(res, 404, fmt::format("no piece {} (unknown, or removed to keep the server's storage under its cap)", id));
      return nullptr;
    }
    return it->second;
  }

  json urls(const Job& j) const {
    std::string b = "/api/pieces/" + j.id;
    return {{"status", b}, {"midi", b + "/piece.mid"}, {"wav", b + "/piece.wav"}, {"png", b + "/piece.png"},
            {"notes", b + "/notes.json"}, {"analysis", b + "/analysis.json"}};
  }

  json describe(const Job& j) const {  // (mu held)
    json d{{"id", j.id}, {"run", j.run}, {"status", j.status}, {"stage", j.stage}, {"progress", j.progress}, {"params", j.params}, {"urls", urls(j)}};
    if (j.status == "queued") {
      std::size_t pos = 0;
      for (const auto& q : queue) {
        ++pos;
        if (q.get() == &j) break;
      }
      d["position"] = pos;
    }
    if (!j.error.empty()) d["error"] = j.error;
    if (j.status == "done") {
      d["summary"] = j.summary;
      d["seconds_taken"] = j.seconds_taken;
    }
    return d;
  }

  // Reads the request's settings (a JSON body, or the fields of a multipart form with an
  // optional "primer" file) into a job; BadRequest says what is wrong.
  std::shared_ptr<Job> parse_compose(const httplib::Request& req) {
    json p = json::object();
    const httplib::MultipartFormData* primer = nullptr;
    if (req.is_multipart_form_data()) {
      for (const auto& [name, field] : req.files) {
        if (name == "primer") primer = &field;
        else if (name == "params") {
          try {
            json given = json::parse(field.content);
            if (!given.is_object()) throw BadRequest(400, "params: must be a JSON object");
            p.update(given);
          } catch (const json::exception& e) {
            throw BadRequest(400, fmt::format("params: not JSON: {}", e.what()));
          }
        } else {
          p[name] = field.content;
        }
      }
    } else if (!req.body.empty()) {
      try {
        p = json::parse(req.body);
      } catch (const json::exception& e) {
        throw BadRequest(400, fmt::format("the body is not JSON: {}", e.what()));
      }
      if (!p.is_object()) throw BadRequest(400, "the body must be a JSON object");
    }
    static const std::set<std::string> known = {"run", "bars", "seconds", "temperature", "top_p", "key", "key_strength", "tempo",
                                                "program", "instruments", "no_drums", "seed", "max_copy", "keep_primer",
                                                "mode", "from", "fill_bars", "add"};
    for (auto& [k, v] : p.items()) {
      if (!known.count(k)) throw BadRequest(400, fmt::format("unknown setting '{}'; known: run, bars, seconds, temperature, top_p, key, key_strength, tempo, program, instruments, no_drums, seed, max_copy, keep_primer, mode, from, fill_bars, add", k));
    }
    auto job = std::make_shared<Job>();
    job->run = p.contains("run") && p["run"].is_string() ? p["run"].get<std::string>() : run_order.front();
    if (!runs.count(job->run)) throw BadRequest(404, fmt::format("unknown run '{}'; GET /api/runs lists the runs served", job->run));
    auto& g = job->g;
    bool has_seconds = p.contains("seconds") && !p["seconds"].is_null() && !(p["seconds"].is_string() && p["seconds"].get<std::string>().empty());
    if (has_seconds) {
      g.seconds = in_range(p, "seconds", 0, 1, o.max_seconds);
    } else {
      g.bars = static_cast<int>(in_range(p, "bars", 8, 1, o.max_bars));
      if (p.contains("bars") && number(p["bars"], "bars") != g.bars) throw BadRequest(400, "bars: must be a whole number");
    }
    g.temperature = in_range(p, "temperature", 1.0, 0.05, 3.0);
    g.top_p = in_range(p, "top_p", 0.95, 0.01, 1.0);
    g.tempo_bpm = in_range(p, "tempo", 0, 0, 400);
    if (g.tempo_bpm > 0 && g.tempo_bpm < 20) throw BadRequest(400, "tempo: 0 (the model's) or between 20 and 400 BPM");
    g.program = static_cast<int>(in_range(p, "program", 0, 0, 127));
    g.max_copy = static_cast<int>(in_range(p, "max_copy", 16, 0, 1000));
    g.seed = static_cast<std::uint64_t>(in_range(p, "seed", static_cast<double>(std::random_device{}() % 1000000), 0, 9007199254740991.0));
    std::string key = p.contains("key") && p["key"].is_string() ? p["key"].get<std::string>() : "";
    if (!key.empty() && key != "none") {
      try {
        g.key = generate::parse_key(key);
      } catch (const Error& e) {
        throw BadRequest(400, fmt::format("key: {}", e.what()));
      }
      g.key_strength = in_range(p, "key_strength", -1, -1, 100);  // -1: the generator's default (as the command line's)
    }
    auto flag = [&](const char* name) {
      if (!p.contains(name)) return false;
      const auto& v = p[name];
      return v.is_boolean() ? v.get<bool>() : (v.is_string() && (v == "true" || v == "1" || v == "on"));
    };
    g.keep_primer = flag("keep_primer");
    g.no_drums = flag("no_drums");
    std::string instruments = p.contains("instruments") && p["instruments"].is_string() ? p["instruments"].get<std::string>() : "";
    if (!instruments.empty()) {
      try {
        g.instruments = music::parse_instruments(instruments);
      } catch (const Error& e) {
        throw BadRequest(400, fmt::format("instruments: {}", e.what()));
      }
    }
    job->id = new_id();
    job->dir = data_dir + "/pieces/" + job->id;
    job->mode = p.contains("mode") && p["mode"].is_string() ? p["mode"].get<std::string>() : "compose";
    if (job->mode != "compose") parse_song_job(*job, p, primer);
    else if (primer) {
      if (primer->content.size() > o.max_upload_bytes) {
        throw BadRequest(413, fmt::format("primer '{}': {} bytes, more than the limit of {}", primer->filename, primer->content.size(), o.max_upload_bytes));
      }
      check_midi_upload(primer->content, "primer", primer->filename.empty() ? "primer" : primer->filename);
      fs::create_directories(job->dir);
      write_file_atomic(job->dir + "/primer.mid", primer->content);
      p["primer"] = primer->filename;
    }
    job->params = p;
    job->params["run"] = job->run;
    job->params["seed"] = g.seed;
    return job;
  }

  // A job on the user's song (mode open, infill or accompany): the song is the uploaded file
  // (field "primer") or a piece made before ("from": its id); infill takes "fill_bars" ("9-16")
  // and "instruments", accompany "add". The song is copied into the job's folder as song.mid.
  void parse_song_job(Job& job, json& p, const httplib::MultipartFormData* upload) {
    if (job.mode != "open" && job.mode != "infill" && job.mode != "accompany") {
      throw BadRequest(400, fmt::format("mode '{}': use compose, open, infill or accompany", job.mode));
    }
    std::string song;
    if (upload) {
      if (upload->content.size() > o.max_upload_bytes) throw BadRequest(413, fmt::format("song '{}': {} bytes, more than the limit of {}", upload->filename, upload->content.size(), o.max_upload_bytes));
      song = upload->content;
      p["song"] = upload->filename;
    } else if (p.contains("from") && p["from"].is_string()) {
      std::lock_guard<std::mutex> lock(mu);
      static const std::regex kId("[0-9a-f]{16}");
      const std::string from = p["from"].get<std::string>();
      auto it = std::regex_match(from, kId) ? jobs.find(from) : jobs.end();
      if (it == jobs.end() || it->second->status != "done") throw BadRequest(404, fmt::format("from: no finished piece {}", from));
      song = read_text(it->second->dir + "/piece.mid");
    } else {
      throw BadRequest(400, fmt::format("mode {}: send the song (a MIDI file in the field 'primer') or 'from' (a piece id)", job.mode));
    }
    check_midi_upload(song, "song", p.value("song", "song"));
    auto& f = job.fill;
    f.temperature = job.g.temperature;
    f.top_p = job.g.top_p;
    f.seed = job.g.seed;
    f.max_copy = job.g.max_copy;
    f.instruments = job.g.instruments;
    try {
      if (job.mode == "infill") {
        if (!p.contains("fill_bars") || !p["fill_bars"].is_string()) throw BadRequest(400, "infill: give fill_bars, e.g. \"9-16\"");
        std::tie(f.first_bar, f.end_bar) = generate::parse_bars(p["fill_bars"].get<std::string>());
      } else if (job.mode == "accompany") {
        if (!p.contains("add") || !p["add"].is_string()) throw BadRequest(400, "accompany: give add, e.g. \"bass,drums\"");
        f.add = true;
        f.instruments = music::parse_instruments(p["add"].get<std::string>());
      }
    } catch (const Error& e) {
      throw BadRequest(400, e.what());
    }
    fs::create_directories(job.dir);
    write_file_atomic(job.dir + "/song.mid", song);
  }

  void compose(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<Job> job;
    try {
      job = parse_compose(req);
    } catch (const BadRequest& e) {
      return send_error(res, e.status, e.what());
    }
    std::lock_guard<std::mutex> lock(mu);
    if (queue.size() >= o.queue_capacity) {
      int retry = std::max(1, static_cast<int>(std::ceil(mean_job_s * static_cast<double>(queue.size()) / 2)));
      res.set_header("Retry-After", std::to_string(retry));
      if (fs::exists(job->dir)) fs::remove_all(job->dir);
      return send_json(res, 503, {{"error", fmt::format("the queue is full ({} pieces waiting); try again in about {} s", queue.size(), retry)},
                                  {"retry_after_s", retry}});
    }
    jobs[job->id] = job;
    queue.push_back(job);
    cv.notify_all();
    res.set_header("Location", "/api/pieces/" + job->id);
    send_json(res, 202, describe(*job));
  }

  // --- the worker ---------------------------------------------------------------------------

  void set(Job& j, const std::string& stage, double progress) {
    std::lock_guard<std::mutex> lock(mu);
    j.stage = stage;
    j.progress = progress;
  }

  void work() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [this] { return stopping || (!paused && !queue.empty()); });
        if (stopping) return;
        job = queue.front();
        queue.pop_front();
        job->status = "running";
        job->stage = "loading the model";
      }
      auto t0 = Clock::now();
      std::string error;
      try {
        run_job(*job);
      } catch (const std::exception& e) {
        error = e.what();
      }
      double took = std::chrono::duration<double>(Clock::now() - t0).count();
      std::uint64_t bytes = 0;
      std::error_code ec;
      if (fs::exists(job->dir)) {
        for (const auto& f : fs::directory_iterator(job->dir, ec)) bytes += f.is_regular_file() ? f.file_size() : 0;
      }
      std::lock_guard<std::mutex> lock(mu);
      job->seconds_taken = took;
      job->bytes = bytes;
      if (error.empty()) {
        job->status = "done";
        job->stage = "done";
        job->progress = 1;
        mean_job_s = 0.7 * mean_job_s + 0.3 * took;
      } else {
        job->status = "failed";
        job->stage = "failed";
        job->error = error;
      }
      finished.push_back(job->id);
      stored_bytes += bytes;
      // The storage cap: remove the oldest pieces (never the one just made).
      while (stored_bytes > o.max_storage_bytes && finished.size() > 1) {
        auto old = jobs.find(finished.front());
        finished.pop_front();
        if (old == jobs.end()) continue;
        stored_bytes -= std::min(stored_bytes, old->second->bytes);
        fs::remove_all(old->second->dir, ec);
        jobs.erase(old);
      }
    }
  }

  void run_job(Job& job) {
    Run& run = *runs.at(job.run);
    if (!run.generator) run.generator = std::make_unique<generate::Generator>(run.dir);
    auto& gen = *run.generator;
    model::use_threads(o.threads);
    generate::GenerateOptions g = job.g;
    fs::create_directories(job.dir);
    generate::Piece p;
    json song_summary;
    std::set<std::tuple<std::uint64_t, int, int>> fresh;  // (start, channel, pitch) of new notes
    if (job.mode == "compose") {
      if (fs::exists(job.dir + "/primer.mid")) g.primer = gen.primer_from_midi(job.dir + "/primer.mid");
      else if (gen.tokenizer().name == "classic") g.primer = gen.primer_from_corpus(g.seed, 100);
      set(job, "composing", 0);
      g.on_progress = [&](double f) { set(job, "composing", 0.8 * f); };
      p = gen.generate(g).at(0);
    } else {
      p = song_piece(job, gen, song_summary, fresh);
    }
    set(job, "writing MIDI and the piano roll", 0.8);
    const std::string mid = job.dir + "/piece.mid";
    write_file_atomic(mid, midi::write_midi(music::score_to_midi(p.score)));
    render::write_piano_roll_png(job.dir + "/piece.png", p.score, p.primer_end_tick);
    write_file_atomic(job.dir + "/notes.json", notes_json(p, fresh).dump() + "\n");
    set(job, "rendering audio", 0.85);
    std::string sf = o.soundfont.empty() ? render::find_soundfont() : o.soundfont;
    if (!sf.empty()) render::write_wav(job.dir + "/piece.wav", p.score, sf);
    set(job, "analysing", 0.93);
    if (!run.reference_tried) {
      run.reference_tried = true;
      std::string corpus = run.config.value("corpus", "");
      try {
        if (!corpus.empty() && fs::exists(corpus)) {
          run.reference = std::make_unique<eval::PieceSet>(eval::load_corpus_set(corpus));
          eval::add_metrics(*run.reference);
        }
      } catch (const Error&) {
        run.reference.reset();
      }
    }
    auto set1 = eval::load_midi_set({mid});
    eval::add_metrics(set1);
    json analysis = eval::analyze(set1, run.reference.get());
    write_file_atomic(job.dir + "/analysis.json", analysis.dump() + "\n");
    std::lock_guard<std::mutex> lock(mu);
    job.summary = {{"notes", p.notes}, {"bars", p.bars}, {"seconds", p.seconds}, {"longest_copy_onsets", p.copy.longest_onsets},
                   {"longest_copy_seconds", p.copy.longest_seconds},
                   {"longest_copy_from", p.copy_source.empty() ? "" : fs::path(p.copy_source).filename().string()},
                   {"max_copy", g.max_copy}, {"stopped_by_gate", p.stopped_by_gate}, {"wav", !sf.empty()},
                   {"reference", run.reference != nullptr}, {"mode", job.mode}};
    if (!song_summary.is_null()) job.summary.update(song_summary);
  }

  // The song of an open, infill or accompany job as a piece: as it is, or with its new material
  // (whose notes go into `fresh`, to be marked in the page).
  generate::Piece song_piece(Job& job, generate::Generator& gen, json& summary, std::set<std::tuple<std::uint64_t, int, int>>& fresh) {
    generate::Piece p;
    const music::Score song = music::score_from_midi(midi::read_midi_file(job.dir + "/song.mid"));
    if (job.mode == "open") {
      p.score = song;
      p.notes = song.notes.size();
      summary = {{"notes_added", 0}, {"notes_kept", song.notes.size()}};
    } else {
      set(job, job.mode == "infill" ? "filling the bars" : "writing the new parts", 0.1);
      const auto r = gen.infill(song, job.fill);
      p.score = r.score;
      p.notes = r.added.size();
      p.copy = r.copy;
      p.copy_source = r.copy_source;
      for (const auto& n : r.added) fresh.insert({n.start_tick, n.channel, n.pitch});
      std::vector<std::string> names;
      for (int i : r.instruments) names.push_back(music::instrument_name(i));
      summary = {{"notes_added", r.added.size()}, {"notes_kept", r.kept}, {"notes_replaced", r.replaced},
                 {"fill_bars", {r.first_bar + 1, r.end_bar}}, {"fill_start_s", p.score.seconds(r.start_tick)},
                 {"fill_end_s", p.score.seconds(r.end_tick)}, {"instruments", names}};
    }
    p.seconds = p.score.seconds(p.score.end_tick());
    const std::uint64_t bar = std::max<std::uint64_t>(1, p.score.bar_ticks_at(0));
    p.bars = static_cast<int>((p.score.end_tick() + bar - 1) / bar);
    return p;
  }

  // GET /api/pieces/ID/mix.wav?parts=0,33,128: the piece's audio with only those parts
  // (programs; 128 = drums), for muting and soloing in the page. Rendered once per mix.
  void send_mix(const httplib::Request& req, httplib::Response& res, const std::string& dir) {
    std::set<int> keep;
    std::stringstream in(req.has_param("parts") ? req.get_param_value("parts") : "");
    std::string item;
    while (std::getline(in, item, ',')) {
      if (item.empty()) continue;
      if (item.size() > 3 || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stoi(item) > 128) {
        return send_error(res, 400, fmt::format("parts: '{}' is not an instrument (a program 0-127, or 128 for drums)", item));
      }
      keep.insert(std::stoi(item));
    }
    const std::string sf = o.soundfont.empty() ? render::find_soundfont() : o.soundfont;
    if (sf.empty()) return send_error(res, 404, "no soundfont on this machine: the piece has no audio");
    std::string name = "mix";
    for (int k : keep) name += "-" + std::to_string(k);
    const std::string path = dir + "/" + name + ".wav";
    std::lock_guard<std::mutex> lock(mix_mu);  // one rendering at a time; a mix asked for twice is rendered once
    if (!fs::exists(path)) {
      music::Score s = music::score_from_midi(midi::read_midi_file(dir + "/piece.mid"));
      std::vector<music::Note> notes;
      for (const auto& n : s.notes) if (keep.count(music::instrument_of(n))) notes.push_back(n);
      s.notes = notes;
      render::write_wav(path, s, sf);
    }
    res.set_content(read_text(path), "audio/wav");
  }

  // The notes in seconds, for drawing the piano roll in the page; each note's instrument
  // (program, 128 = drums) and the piece's parts.
  static json notes_json(const generate::Piece& p, const std::set<std::tuple<std::uint64_t, int, int>>& fresh) {
    const auto& s = p.score;
    json notes = json::array();
    std::vector<std::pair<int, std::size_t>> parts;  // (instrument, notes) in order of first note, drums last (as the PNG)
    int lo = 127, hi = 0;
    for (const auto& n : s.notes) {
      const int instrument = music::instrument_of(n);
      notes.push_back({std::round(s.seconds(n.start_tick) * 1000) / 1000, std::round(s.seconds(n.end_tick) * 1000) / 1000, n.pitch, n.velocity,
                       n.start_tick < p.primer_end_tick ? 1 : 0, instrument, fresh.count({n.start_tick, n.channel, n.pitch}) ? 1 : 0});
      auto it = std::find_if(parts.begin(), parts.end(), [&](const auto& x) { return x.first == instrument; });
      if (it == parts.end()) parts.emplace_back(instrument, 1);
      else ++it->second;
      if (n.drum()) continue;
      lo = std::min(lo, static_cast<int>(n.pitch));
      hi = std::max(hi, static_cast<int>(n.pitch));
    }
    std::stable_partition(parts.begin(), parts.end(), [](const auto& x) { return x.first != 128; });
    json part_list = json::array();
    for (const auto& [instrument, count] : parts) part_list.push_back({{"instrument", instrument}, {"name", music::instrument_name(instrument)}, {"notes", count}});
    json bars = json::array();
    const std::uint64_t end = s.end_tick();
    for (std::uint64_t t = 0; t <= end && bars.size() < 10000;) {
      bars.push_back(std::round(s.seconds(t) * 1000) / 1000);
      std::uint64_t len = s.bar_ticks_at(t);
      if (len == 0) break;
      t += len;
    }
    return {{"seconds", s.seconds(end)}, {"notes", notes}, {"bars", bars}, {"pitch_min", notes.empty() ? 60 : lo},
            {"pitch_max", notes.empty() ? 72 : hi}, {"parts", part_list},
            {"fields", {"start_s", "end_s", "pitch", "velocity", "primer", "instrument", "new"}}};
  }
};

namespace {

// cpp-httplib 0.11 listens with a backlog of 5 (compiled into Debian's library), so a burst of
// connections on a busy machine overflows it and clients see resets. Linux lets a listening
// socket's backlog be raised by calling listen() again: find ours among this process's
// descriptors (a listening TCP socket on our port) and do that.
void raise_backlog(int port) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/self/fd", ec)) {
    int fd = std::atoi(e.path().filename().c_str());
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int p = addr.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
            : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port) : -1;
    if (p == port) ::listen(fd, SOMAXCONN);
  }
}

}  // namespace

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;

int Server::bind() {
  auto& i = *impl_;
  if (i.o.port == 0) {
    i.port = i.http.bind_to_any_port(i.o.host);
    if (i.port < 0) throw Error(fmt::format("serve: cannot listen on {}", i.o.host));
  } else {
    if (!i.http.bind_to_port(i.o.host, i.o.port)) {
      throw Error(fmt::format("serve: cannot listen on {}:{} (in use? try --port)", i.o.host, i.o.port));
    }
    i.port = i.o.port;
  }
  raise_backlog(i.port);
  i.policy = RequestPolicy::for_server(i.o.host, i.port, i.o.allowed_hosts);
  return i.port;
}

int Server::port() const { return impl_->port; }
void Server::listen() { impl_->http.listen_after_bind(); }
void Server::stop() { impl_->http.stop(); }
const std::string& Server::data_dir() const { return impl_->data_dir; }
void Server::set_log(std::function<void(const std::string&)> log) { impl_->log = std::move(log); }

void Server::set_paused(bool paused) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->paused = paused;
  }
  impl_->cv.notify_all();
}

}  // namespace arioso::serve
