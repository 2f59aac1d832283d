// The studio's server; see server.h: its routes and the worker. Handlers validate and answer at
// once (requests are read by compose_request.h, refused by request_policy.h); the one worker
// thread takes pieces from the queue (job_queue.h) and composes, renders and analyses them.
#include "serve/server.h"
#include "serve/compose_request.h"
#include "serve/job_queue.h"
#include "serve/request_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

// A piece id: 16 hexadecimal digits (new_id), the only form a request may name a piece by.
bool is_piece_id(const std::string& id) {
  static const std::regex kId("[0-9a-f]{16}");
  return std::regex_match(id, kId);
}

std::string new_id() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  return fmt::format("{:016x}", rng());
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

  JobQueue queue;
  std::mutex mix_mu;  // mix.wav renderings
  std::thread worker;
  std::function<void(const std::string&)> log;

  explicit Impl(ServeOptions options) : o(std::move(options)), queue(o.queue_capacity, o.max_storage_bytes) {
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
    queue.stop();
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
      if (!valid_id(req.matches[1], res)) return;
      auto d = queue.describe(req.matches[1]);
      if (d) send_json(res, 200, *d);
      else send_unknown_piece(res, req.matches[1]);
    });
    http.Get(R"(/api/pieces/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!valid_id(req.matches[1], res)) return;
      const bool mix = req.matches[2] == "mix.wav";
      auto f = kPieceFiles.find(req.matches[2]);
      std::string path, type, status;
      const bool known = queue.with_job(req.matches[1], [&](const Job& job) {
        status = job.status;
        path = mix ? job.dir : job.dir + "/" + req.matches[2].str();
      });
      if (!known) return send_unknown_piece(res, req.matches[1]);
      if (f == kPieceFiles.end() && !mix) return send_error(res, 404, fmt::format("no file '{}': a piece has piece.mid, piece.wav, piece.png, notes.json, analysis.json, mix.wav?parts=...", req.matches[2].str()));
      if (status != "done") return send_error(res, 409, fmt::format("piece {} is {}; its files come when it is done", req.matches[1].str(), status));
      if (!mix) type = f->second;
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

  static bool valid_id(const std::string& id, httplib::Response& res) {
    if (is_piece_id(id)) return true;
    send_error(res, 400, "a piece id is 16 hexadecimal digits");
    return false;
  }

  static void send_unknown_piece(httplib::Response& res, const std::string& id) {
    send_error(res, 404, fmt::format("no piece {} (unknown, or removed to keep the server's storage under its cap)", id));
  }

  // POST /api/compose: the request read and checked (compose_request.h), then queued with its
  // folder: the primer or song copied in (for "from", the finished piece's MIDI).
  void compose(const httplib::Request& req, httplib::Response& res) {
    auto job = std::make_shared<Job>();
    try {
      ComposeRequest r = parse_compose_request(body_of(req), limits());
      job->id = new_id();
      job->dir = data_dir + "/pieces/" + job->id;
      job->run = r.run;
      job->mode = r.mode;
      job->g = r.g;
      job->fill = r.fill;
      job->params = r.params;
      std::string bytes = r.upload ? r.upload->content : "";
      if (!r.from.empty()) bytes = finished_piece_midi(r.from);
      if (!bytes.empty()) {
        fs::create_directories(job->dir);
        write_file_atomic(job->dir + (r.mode == "compose" ? "/primer.mid" : "/song.mid"), bytes);
      }
    } catch (const BadRequest& e) {
      return send_error(res, e.status, e.what());
    }
    if (int retry = queue.push(job)) {
      res.set_header("Retry-After", std::to_string(retry));
      std::error_code ec;
      fs::remove_all(job->dir, ec);
      return send_json(res, 503, {{"error", fmt::format("the queue is full ({} pieces waiting); try again in about {} s", o.queue_capacity, retry)},
                                  {"retry_after_s", retry}});
    }
    res.set_header("Location", "/api/pieces/" + job->id);
    auto d = queue.describe(job->id);  // (nullopt only if the storage cap removed it already)
    send_json(res, 202, d ? *d : json{{"id", job->id}, {"urls", piece_urls(job->id)}});
  }

  static RequestBody body_of(const httplib::Request& req) {
    RequestBody b;
    b.multipart = req.is_multipart_form_data();
    if (!b.multipart) b.text = req.body;
    for (const auto& [name, field] : req.files) b.fields.push_back({name, field.filename, field.content});
    return b;
  }

  RequestLimits limits() const {
    RequestLimits l;
    l.runs = run_order;
    l.max_bars = o.max_bars;
    l.max_seconds = o.max_seconds;
    l.max_upload_bytes = o.max_upload_bytes;
    l.default_seed = std::random_device{}() % 1000000;
    return l;
  }

  // The MIDI of a finished piece, as the song of a new job ("from").
  std::string finished_piece_midi(const std::string& id) {
    std::string path;
    if (is_piece_id(id)) {
      queue.with_job(id, [&](const Job& j) {
        if (j.status == "done") path = j.dir + "/piece.mid";
      });
    }
    if (path.empty()) throw BadRequest(404, fmt::format("from: no finished piece {}", id));
    std::string bytes = read_text(path);
    check_midi_upload(bytes, "song", "song");
    return bytes;
  }

  // --- the worker ---------------------------------------------------------------------------

  void set(Job& j, const std::string& stage, double progress) { queue.set_stage(j, stage, progress); }

  void work() {
    while (auto job = queue.next()) {
      auto t0 = Clock::now();
      std::string error;
      json summary;
      try {
        summary = run_job(*job);
      } catch (const std::exception& e) {
        error = e.what();
      }
      const double took = std::chrono::duration<double>(Clock::now() - t0).count();
      std::uint64_t bytes = 0;
      std::error_code ec;
      if (fs::exists(job->dir)) {
        for (const auto& f : fs::directory_iterator(job->dir, ec)) bytes += f.is_regular_file() ? f.file_size() : 0;
      }
      queue.finish(*job, error, took, bytes, summary);
    }
  }

  // Composes the job's piece into its folder; returns its summary.
  json run_job(Job& job) {
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
    json summary = {{"notes", p.notes}, {"bars", p.bars}, {"seconds", p.seconds}, {"longest_copy_onsets", p.copy.longest_onsets},
                   {"longest_copy_seconds", p.copy.longest_seconds},
                   {"longest_copy_from", p.copy_source.empty() ? "" : fs::path(p.copy_source).filename().string()},
                   {"max_copy", g.max_copy}, {"stopped_by_gate", p.stopped_by_gate}, {"wav", !sf.empty()},
                   {"reference", run.reference != nullptr}, {"mode", job.mode}};
    if (!song_summary.is_null()) summary.update(song_summary);
    return summary;
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

void Server::set_paused(bool paused) { impl_->queue.set_paused(paused); }

}  // namespace arioso::serve
