// `arioso serve`'s API against a running server on loopback (in this process, on a free port),
// with a tiny run trained here: every endpoint, every error path, the queue limit, path
// traversal attempts, concurrent requests, and the storage cap.
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "data/prepare.h"
#include "midi/midi_file.h"
#include "midi/notes.h"
#include "music/instruments.h"
#include "music/score.h"
#include "eval/originality.h"
#include "render/render.h"
#include "serve/compose_request.h"
#include "serve/job_queue.h"
#include "serve/request_policy.h"
#include "serve/server.h"
#include "test_util.h"
#include "tunes.h"
#include "train/train.h"

using namespace arioso;
using namespace arioso::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string tune_bytes(int variant) { return walking_tune_midi(variant + 2, 48); }

// One tiny run for the whole suite.
class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir("serve");
    fs::create_directories(dir_ + "/midi");
    for (int p = 0; p < 6; ++p) write_file_atomic(dir_ + "/midi/t" + std::to_string(p) + ".mid", tune_bytes(p));
    data::PrepareOptions po;
    po.valid_fraction = 0.2;
    auto prepared = data::prepare_corpus({dir_ + "/midi"}, po);
    data::write_corpus(dir_ + "/c.arioso", prepared.corpus);
    train::TrainOptions o;
    o.corpus = dir_ + "/c.arioso";
    o.run_dir = dir_ + "/tiny";
    o.preset = "tiny";
    o.epochs = 1;
    o.window = 32;
    o.threads = 1;
    std::atomic<bool> stop{false};
    train::train(o, stop, {});
    render::write_run_loss_png(o.run_dir);
    eval::write_copy_index(data::read_corpus(o.corpus), o.run_dir + "/copy_index.bin", o.run_dir + "/copy_index.json");
  }

  void start(serve::ServeOptions o = {}) {
    o.runs = {dir_ + "/tiny"};
    o.port = 0;
    o.data_dir = dir_ + "/data-" + std::to_string(++servers_);
    server_ = std::make_unique<serve::Server>(o);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->listen(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(60, 0);
    for (int i = 0; i < 100 && !client_->Get("/api/runs"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  void TearDown() override {
    if (server_) {
      server_->set_paused(false);
      server_->stop();
      thread_.join();
      server_.reset();
    }
  }

  httplib::Result post(const json& body) { return client_->Post("/api/compose", body.dump(), "application/json"); }

  // Polls a piece until it is done or failed.
  json wait_done(const std::string& id) {
    for (int i = 0; i < 3000; ++i) {
      auto r = client_->Get("/api/pieces/" + id);
      if (!r || r->status != 200) return {{"http", r ? r->status : -1}};
      auto j = json::parse(r->body);
      if (j["status"] == "done" || j["status"] == "failed") return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return {{"timeout", true}};
  }

  static std::string error_of(const httplib::Result& r) { return r ? json::parse(r->body).value("error", "") : "no response"; }

  static std::string dir_;
  static int servers_;
  std::unique_ptr<serve::Server> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};
std::string ServeTest::dir_;
int ServeTest::servers_ = 0;

}  // namespace

TEST_F(ServeTest, RunsLogAndThePage) {
  start();
  auto r = client_->Get("/api/runs");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto runs = json::parse(r->body)["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["name"], "tiny");
  EXPECT_EQ(runs[0]["tokenizer"], "remi");
  EXPECT_EQ(runs[0]["model"], "lstm");
  EXPECT_EQ(runs[0]["preset"], "tiny");
  EXPECT_EQ(runs[0]["corpus"], "c.arioso");
  EXPECT_TRUE(runs[0]["valid_nll"].is_number());

  r = client_->Get("/api/runs/tiny/log");
  ASSERT_EQ(r->status, 200);
  auto log = json::parse(r->body);
  ASSERT_EQ(log["epochs"].size(), 1u);
  EXPECT_EQ(log["epochs"][0]["epoch"], 1.0);
  EXPECT_EQ(log["epochs"][0]["valid_nll"], runs[0]["valid_nll"]);
  EXPECT_EQ(log["train"]["preset"], "tiny");
  r = client_->Get(log["loss_png"].get<std::string>());
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body.substr(1, 3), "PNG");

  // The page takes its instrument names from the server (one list: music/instruments.cpp).
  r = client_->Get("/api/instruments");
  ASSERT_EQ(r->status, 200);
  auto instruments = json::parse(r->body);
  ASSERT_EQ(instruments["programs"].size(), 128u);
  EXPECT_EQ(instruments["programs"][0], "Acoustic Grand Piano");
  EXPECT_EQ(instruments["programs"][33], "Electric Bass (finger)");
  EXPECT_EQ(instruments["programs"][127], "Gunshot");
  EXPECT_EQ(instruments["drums"], "Drums");

  r = client_->Get("/");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<title>arioso studio</title>"), std::string::npos);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* asset : {"/app.js", "/style.css"}) EXPECT_EQ(client_->Get(asset)->status, 200) << asset;
}

TEST_F(ServeTest, ComposeServesEveryFileOfAPiece) {
  start();
  auto r = post({{"bars", 2}, {"key", "A:minor"}, {"key_strength", 0}, {"seed", 5}, {"tempo", 90}, {"program", 40}, {"max_copy", 4}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  auto accepted = json::parse(r->body);
  std::string id = accepted["id"];
  EXPECT_EQ(r->get_header_value("Location"), "/api/pieces/" + id);
  auto done = wait_done(id);
  ASSERT_EQ(done["status"], "done") << done.dump();
  EXPECT_EQ(done["params"]["seed"], 5);
  auto sum = done["summary"];
  EXPECT_GT(sum["notes"].get<int>(), 0);
  EXPECT_LE(sum["longest_copy_onsets"].get<int>(), 4);
  EXPECT_EQ(sum["max_copy"], 4);

  // MIDI: arioso reads it back; every pitch is in A minor (key strength 0), program 40, 90 BPM.
  auto mid = client_->Get(done["urls"]["midi"].get<std::string>());
  ASSERT_EQ(mid->status, 200);
  EXPECT_EQ(mid->get_header_value("Content-Type"), "audio/midi");
  auto file = midi::read_midi(std::vector<std::uint8_t>(mid->body.begin(), mid->body.end()), {});
  auto notes = midi::extract_notes(file);
  ASSERT_EQ(notes.size(), sum["notes"].get<std::size_t>());
  for (const auto& n : notes) {
    int pc = n.pitch % 12;
    EXPECT_TRUE(pc == 9 || pc == 11 || pc == 0 || pc == 2 || pc == 4 || pc == 5 || pc == 7) << int(n.pitch);
    EXPECT_EQ(n.program, 40);
  }
  // The WAV is RIFF/WAVE at 44.1 kHz; the PNG is a PNG; notes.json has the notes in seconds.
  auto wav = client_->Get(done["urls"]["wav"].get<std::string>());
  ASSERT_EQ(wav->status, 200);
  ASSERT_GT(wav->body.size(), 44u);
  EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
  EXPECT_EQ(wav->body.substr(8, 4), "WAVE");
  std::uint32_t rate = 0;
  std::memcpy(&rate, wav->body.data() + 24, 4);
  EXPECT_EQ(rate, 44100u);
  auto png = client_->Get(done["urls"]["png"].get<std::string>());
  ASSERT_EQ(png->status, 200);
  EXPECT_EQ(png->body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto nj = json::parse(client_->Get(done["urls"]["notes"].get<std::string>())->body);
  ASSERT_EQ(nj["notes"].size(), notes.size());
  EXPECT_NEAR(nj["seconds"].get<double>(), sum["seconds"].get<double>(), 2.5);
  // The analysis has the piece's metrics and the corpus's.
  auto an = json::parse(client_->Get(done["urls"]["analysis"].get<std::string>())->body);
  EXPECT_TRUE(an["pieces"][0]["pitch_class_entropy"].is_number());
  EXPECT_TRUE(an["reference"]["pitch_class_entropy"]["mean"].is_number());
  // A range request (what an audio element sends) gets part of the WAV.
  auto part = client_->Get(done["urls"]["wav"].get<std::string>(), {{"Range", "bytes=0-99"}});
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body.size(), 100u);
}

TEST_F(ServeTest, APrimerUploadIsUsedAndKept) {
  start();
  httplib::MultipartFormDataItems form = {
      {"params", json{{"bars", 2}, {"seed", 2}, {"keep_primer", true}}.dump(), "", "application/json"},
      {"primer", tune_bytes(1), "primer.mid", "audio/midi"}};
  auto r = client_->Post("/api/compose", form);
  ASSERT_EQ(r->status, 202) << r->body;
  auto done = wait_done(json::parse(r->body)["id"]);
  ASSERT_EQ(done["status"], "done") << done.dump();
  EXPECT_EQ(done["params"]["primer"], "primer.mid");
  auto nj = json::parse(client_->Get(done["urls"]["notes"].get<std::string>())->body);
  int primer_notes = 0;
  for (const auto& n : nj["notes"]) primer_notes += n[4].get<int>();
  // The primer's 48 notes are in the output; its last onset stays open for the model to add
  // notes to, so it is drawn as composed.
  EXPECT_EQ(primer_notes, 47);

  // Form fields work as well as a params object.
  httplib::MultipartFormDataItems fields = {{"bars", "1", "", ""}, {"temperature", "0.8", "", ""}};
  r = client_->Post("/api/compose", fields);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body)["params"]["temperature"], "0.8");
}

TEST_F(ServeTest, BadRequestsSayWhatIsWrong) {
  serve::ServeOptions o;
  o.max_upload_bytes = 2000;
  start(o);
  struct Case {
    json body;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {{{"run", "nope"}}, 404, "unknown run 'nope'"},
      {{{"bars", 0}}, 400, "bars = 0: must be between 1 and 64"},
      {{{"bars", 65}}, 400, "bars = 65: must be between 1 and 64"},
      {{{"bars", 2.5}}, 400, "bars: must be a whole number"},
      {{{"seconds", 1000}}, 400, "seconds = 1000: must be between 1 and 180"},
      {{{"temperature", "hot"}}, 400, "temperature: expected a number"},
      {{{"top_p", 0}}, 400, "top_p = 0: must be between"},
      {{{"key", "H:major"}}, 400, "key: "},
      {{{"tempo", 5}}, 400, "tempo: 0 (the model's) or between 20 and 400 BPM"},
      {{{"program", 128}}, 400, "program = 128: must be between 0 and 127"},
      {{{"volume", 11}}, 400, "unknown setting 'volume'"},
  };
  for (const auto& c : cases) {
    auto r = post(c.body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << c.body.dump() << " " << r->body;
    EXPECT_NE(error_of(r).find(c.message), std::string::npos) << c.body.dump() << " -> " << error_of(r);
  }
  auto r = client_->Post("/api/compose", "{not json", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(error_of(r).find("the body is not JSON"), std::string::npos);
  r = client_->Post("/api/compose", "[1,2]", "application/json");
  EXPECT_EQ(r->status, 400);
  // A primer that is not MIDI, one without notes, one over the size limit.
  httplib::MultipartFormDataItems not_midi = {{"primer", "hello, I am a text file", "song.mid", "audio/midi"}};
  r = client_->Post("/api/compose", not_midi);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(error_of(r).find("primer is not a MIDI file: song.mid"), std::string::npos) << error_of(r);
  music::Score empty;
  auto eb = midi::write_midi(music::score_to_midi(empty));
  httplib::MultipartFormDataItems no_notes = {{"primer", std::string(eb.begin(), eb.end()), "empty.mid", "audio/midi"}};
  r = client_->Post("/api/compose", no_notes);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(error_of(r).find("without notes"), std::string::npos) << error_of(r);
  httplib::MultipartFormDataItems big = {{"primer", std::string(3000, 'x'), "big.mid", "audio/midi"}};
  r = client_->Post("/api/compose", big);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(error_of(r).find("more than the limit of 2000"), std::string::npos) << error_of(r);
  httplib::MultipartFormDataItems huge = {{"primer", std::string(200000, 'x'), "huge.mid", "audio/midi"}};
  r = client_->Post("/api/compose", huge);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Unknown pieces, files and paths.
  EXPECT_EQ(client_->Get("/api/pieces/0123456789abcdef")->status, 404);
  EXPECT_EQ(client_->Get("/api/pieces/xyz")->status, 400);
  EXPECT_EQ(client_->Get("/api/runs/nope/log")->status, 404);
  EXPECT_NE(error_of(client_->Get("/api/runs/nope/log")).find("unknown run 'nope'"), std::string::npos);
  EXPECT_EQ(client_->Get("/api/nothing")->status, 404);
  EXPECT_NE(error_of(client_->Get("/api/nothing")).find("nothing at /api/nothing"), std::string::npos);
}

TEST_F(ServeTest, PathsCannotLeaveTheServersFolders) {
  start();
  auto r = post({{"bars", 1}});
  std::string id = json::parse(r->body)["id"];
  ASSERT_EQ(wait_done(id)["status"], "done");
  // Every attempt is refused, and no answer carries a file from elsewhere.
  write_file_atomic(dir_ + "/secret.txt", std::string("TOP SECRET"));
  for (const std::string& path : std::vector<std::string>{"/api/pieces/" + id + "/../../secret.txt", "/api/pieces/" + id + "/..%2f..%2fsecret.txt",
                           "/api/pieces/" + id + "/%2e%2e%2f%2e%2e%2fsecret.txt", "/api/pieces/" + id + "/primer.mid",
                           "/api/pieces/" + id + "/config.json", "/api/pieces/..%2f..%2f/piece.mid", "/api/runs/..%2ftiny/log",
                           "/api/runs/..%2f..%2fetc/log", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/app.js/../../secret.txt",
                           "/api/runs/tiny/..%2f..%2fsecret.txt", "/api/runs/tiny/config.json", "/api/runs/tiny/best.pt"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_GE(res->status, 400) << path;
    EXPECT_LT(res->status, 500) << path;
    EXPECT_EQ(res->body.find("TOP SECRET"), std::string::npos) << path;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << path;
  }
  // The run name in a compose request is a name, not a path.
  r = post({{"run", "../tiny"}});
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServeTest, AFullQueueAnswers503WithARetryHint) {
  serve::ServeOptions o;
  o.queue_capacity = 2;
  start(o);
  server_->set_paused(true);
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = post({{"bars", 1}, {"seed", i}});
    ASSERT_EQ(r->status, 202) << r->body;
    auto j = json::parse(r->body);
    EXPECT_EQ(j["position"], i + 1);
    ids.push_back(j["id"]);
  }
  auto r = post({{"bars", 1}});
  ASSERT_EQ(r->status, 503);
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  auto j = json::parse(r->body);
  EXPECT_GE(j["retry_after_s"].get<int>(), 1);
  EXPECT_NE(j["error"].get<std::string>().find("the queue is full (2 pieces waiting)"), std::string::npos);
  // Nothing accepted is lost: both queued pieces are made once the worker runs.
  server_->set_paused(false);
  for (const auto& id : ids) EXPECT_EQ(wait_done(id)["status"], "done") << id;
  EXPECT_EQ(post({{"bars", 1}})->status, 202);
}

TEST_F(ServeTest, ConcurrentRequestsAreAllServed) {
  serve::ServeOptions o;
  o.queue_capacity = 64;
  start(o);
  const int n = 12;
  std::vector<std::string> ids(n);
  std::vector<int> codes(n, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port_);
      auto r = c.Post("/api/compose", json{{"bars", 1}, {"seed", i}}.dump(), "application/json");
      codes[static_cast<std::size_t>(i)] = r ? r->status : -1;
      if (r && r->status == 202) ids[static_cast<std::size_t>(i)] = json::parse(r->body)["id"];
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(codes[static_cast<std::size_t>(i)], 202);
    unique.insert(ids[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(n));
  // Same settings and seed, same piece: the worker composes one at a time, deterministically.
  std::vector<std::string> midis;
  for (const auto& id : ids) {
    auto d = wait_done(id);
    ASSERT_EQ(d["status"], "done") << d.dump();
    midis.push_back(client_->Get(d["urls"]["midi"].get<std::string>())->body);
  }
  auto again = wait_done(json::parse(post({{"bars", 1}, {"seed", 3}})->body)["id"]);
  EXPECT_EQ(client_->Get(again["urls"]["midi"].get<std::string>())->body, midis[3]);
}

TEST_F(ServeTest, TheStorageCapRemovesTheOldestPieces) {
  serve::ServeOptions o;
  o.max_storage_bytes = 1;  // every new piece pushes out the ones before it
  start(o);
  std::string first = json::parse(post({{"bars", 1}})->body)["id"];
  ASSERT_EQ(wait_done(first)["status"], "done");
  std::string second = json::parse(post({{"bars", 1}})->body)["id"];
  ASSERT_EQ(wait_done(second)["status"], "done");
  auto r = client_->Get("/api/pieces/" + first);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(error_of(r).find("removed to keep the server's storage under its cap"), std::string::npos);
  EXPECT_FALSE(fs::exists(server_->data_dir() + "/pieces/" + first));
  EXPECT_TRUE(fs::exists(server_->data_dir() + "/pieces/" + second + "/piece.mid"));
}

TEST_F(ServeTest, ForeignPagesAndHostsAreRefused) {
  start();
  const std::string own = "http://127.0.0.1:" + std::to_string(port_);
  const std::string body = json{{"bars", 1}}.dump();
  // A cross-site form post (text/plain needs no preflight) from another origin.
  auto r = client_->Post("/api/compose", {{"Origin", "http://evil.example"}}, body, "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(error_of(r), "Origin 'http://evil.example' is not this studio's: requests that change state must come from its own page");
  // Same origin but a body type the studio does not take.
  r = client_->Post("/api/compose", {{"Origin", own}}, body, "text/plain");
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(error_of(r), "Content-Type 'text/plain' is not accepted: send application/json or multipart/form-data");
  // DNS rebinding: a foreign name resolving to loopback.
  r = client_->Get("/api/runs", {{"Host", "evil.example:" + std::to_string(port_)}});
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(error_of(r), "Host 'evil.example:" + std::to_string(port_) +
                             "' is not a name this studio is served under (start it with --allow-host NAME to add one)");
  r = client_->Get("/", {{"Host", "evil.example"}});
  EXPECT_EQ(r->status, 403);
  // The studio's own page, and clients that are no browser (no Origin), still work; no CORS.
  r = client_->Post("/api/compose", {{"Origin", own}}, body, "application/json");
  EXPECT_EQ(r->status, 202);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
  r = client_->Get("/api/runs", {{"Host", "localhost:" + std::to_string(port_)}});
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
}

TEST(RequestPolicy, DecidesFromTheHeadersAlone) {
  auto p = serve::RequestPolicy::for_server("127.0.0.1", 8765, {"studio.lan"});
  auto status = [&](const std::string& m, const std::string& host, const std::string& origin, const std::string& type) {
    auto r = serve::check_request(p, m, host, origin, type);
    return r ? r->status : 0;
  };
  EXPECT_EQ(status("GET", "127.0.0.1:8765", "", ""), 0);
  EXPECT_EQ(status("GET", "LOCALHOST:8765", "", ""), 0);
  EXPECT_EQ(status("GET", "[::1]:8765", "", ""), 0);
  EXPECT_EQ(status("GET", "studio.lan:8765", "", ""), 0);  // --allow-host
  EXPECT_EQ(status("GET", "127.0.0.1:9999", "", ""), 403);  // another port
  EXPECT_EQ(status("GET", "127.0.0.1:x", "", ""), 403);
  EXPECT_EQ(status("GET", "127.0.0.2:8765", "", ""), 403);
  EXPECT_EQ(status("GET", "", "", ""), 400);
  EXPECT_EQ(status("GET", "127.0.0.1:8765", "http://evil.example", ""), 0);  // reading is guarded by Host
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", "application/json"), 0);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", "application/json; charset=utf-8"), 0);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", "multipart/form-data; boundary=x"), 0);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "http://localhost:8765", "Application/JSON"), 0);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "http://studio.lan:8765", "application/json"), 0);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "http://127.0.0.1:8766", "application/json"), 403);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "https://127.0.0.1:8765", "application/json"), 403);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "null", "application/json"), 403);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "http://127.0.0.1.evil.example:8765", "application/json"), 403);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", "text/plain"), 415);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", "application/x-www-form-urlencoded"), 415);
  EXPECT_EQ(status("POST", "127.0.0.1:8765", "", ""), 415);
  EXPECT_EQ(status("DELETE", "127.0.0.1:8765", "http://evil.example", "application/json"), 403);
  // A wildcard bind adds no name of its own; a named one does.
  EXPECT_EQ(serve::RequestPolicy::for_server("0.0.0.0", 80, {}).hosts.size(), 3u);
  auto v6 = serve::RequestPolicy::for_server("::1", 80, {"fe80::2"});
  EXPECT_FALSE(serve::check_request(v6, "GET", "[fe80::2]", "", "").has_value());
  EXPECT_FALSE(serve::check_request(v6, "GET", "[::1]", "", "").has_value());
  EXPECT_EQ(status("GET", "localhost", "", ""), 403);  // port 80 implied, the server is on 8765
}

TEST(ServeConfig, AFolderThatIsNotARunIsRefused) {
  serve::ServeOptions o;
  o.runs = {temp_dir("not-a-run")};
  EXPECT_THROW_MSG(serve::Server s(o), arioso::ConfigError, o.runs[0] + ": not a run folder (config.json and best.pt or last.pt expected)");
}

TEST_F(ServeTest, TheUsersOwnSongOpensAndItsEditsSayWhatIsWrong) {
  start();
  // A song opens as it is: every note kept, none new.
  httplib::MultipartFormDataItems form = {{"params", json{{"mode", "open"}}.dump(), "", "application/json"},
                                          {"primer", tune_bytes(2), "mine.mid", "audio/midi"}};
  auto r = client_->Post("/api/compose", form);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string opened = json::parse(r->body)["id"];
  auto done = wait_done(opened);
  ASSERT_EQ(done["status"], "done") << done.dump();
  EXPECT_EQ(done["summary"]["mode"], "open");
  EXPECT_EQ(done["summary"]["notes_kept"], 48);
  auto nj = json::parse(client_->Get(done["urls"]["notes"].get<std::string>())->body);
  ASSERT_EQ(nj["notes"].size(), 48u);
  for (const auto& n : nj["notes"]) EXPECT_EQ(n[6], 0);  // nothing is new
  EXPECT_EQ(nj["fields"].back(), "new");
  struct Case {
    json body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"mode", "remix"}, {"from", opened}}, 400, "mode 'remix': use compose, open, infill or accompany"},
      {{{"mode", "infill"}, {"fill_bars", "1-2"}}, 400, "mode infill: send the song (a MIDI file in the field 'primer') or 'from' (a piece id)"},
      {{{"mode", "infill"}, {"from", "0123456789abcdef"}, {"fill_bars", "1-2"}}, 404, "from: no finished piece 0123456789abcdef"},
      {{{"mode", "infill"}, {"from", opened}}, 400, "infill: give fill_bars"},
      {{{"mode", "infill"}, {"from", opened}, {"fill_bars", "2-1"}}, 400, "--bars 2-1: give FIRST-LAST"},
      {{{"mode", "accompany"}, {"from", opened}}, 400, "accompany: give add"},
      {{{"mode", "accompany"}, {"from", opened}, {"add", "kazoo"}}, 400, "kazoo"},
  };
  for (const auto& c : cases) {
    auto res = post(c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status) << c.body.dump() << " " << res->body;
    EXPECT_NE(error_of(res).find(c.message), std::string::npos) << c.body.dump() << " -> " << error_of(res);
  }
  // This suite's run was prepared without the infilling markers: the job fails and says why.
  r = post({{"mode", "infill"}, {"from", opened}, {"fill_bars", "1-2"}});
  ASSERT_EQ(r->status, 202) << r->body;
  done = wait_done(json::parse(r->body)["id"]);
  EXPECT_EQ(done["status"], "failed");
  EXPECT_NE(done.value("error", "").find("this run cannot fill in"), std::string::npos) << done.dump();
}

// The compose request as a pure function of its body, with no server.
TEST(ComposeRequest, ReadsAndChecksEverySetting) {
  serve::RequestLimits limits;
  limits.runs = {"first", "second"};
  limits.max_bars = 16;
  limits.default_seed = 99;
  auto json_body = [](const json& j) { return serve::RequestBody{false, j.dump(), {}}; };
  auto r = serve::parse_compose_request(json_body({{"bars", 4}, {"temperature", "0.8"}, {"top_p", 0.9}, {"seed", 7}, {"key", "A:minor"},
                                                   {"instruments", "piano,bass"}, {"no_drums", true}}), limits);
  EXPECT_EQ(r.run, "first");
  EXPECT_EQ(r.mode, "compose");
  EXPECT_EQ(r.g.bars, 4);
  EXPECT_DOUBLE_EQ(r.g.temperature, 0.8);
  EXPECT_DOUBLE_EQ(r.g.top_p, 0.9);
  EXPECT_EQ(r.g.seed, 7u);
  EXPECT_EQ(r.g.key, generate::parse_key("A:minor"));
  EXPECT_DOUBLE_EQ(r.g.key_strength, -1);
  ASSERT_TRUE(r.g.instruments.has_value());
  EXPECT_EQ(r.g.instruments->groups, music::parse_instruments("piano,bass").groups);
  EXPECT_TRUE(r.g.no_drums);
  EXPECT_FALSE(r.g.keep_primer);
  EXPECT_EQ(r.params["run"], "first");
  // Defaults: 8 bars, the limits' seed, the studio's sampling (the command line's).
  r = serve::parse_compose_request(serve::RequestBody{}, limits);
  EXPECT_EQ(r.g.bars, 8);
  EXPECT_EQ(r.g.seed, 99u);
  EXPECT_DOUBLE_EQ(r.g.top_p, generate::GenerateOptions{}.top_p);
  EXPECT_EQ(r.params, json({{"run", "first"}, {"seed", 99}}));
  r = serve::parse_compose_request(json_body({{"run", "second"}, {"seconds", 30}}), limits);
  EXPECT_EQ(r.run, "second");
  EXPECT_DOUBLE_EQ(r.g.seconds, 30);
  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"bars": 4, "loudness": 3})", 400, "unknown setting 'loudness'; known: run, bars, seconds"},
      {R"({"bars": 2.5})", 400, "bars: must be a whole number"},
      {R"({"bars": 17})", 400, "bars = 17: must be between 1 and 16"},
      {R"({"temperature": 5})", 400, "temperature = 5: must be between 0.05 and 3"},
      {R"({"temperature": "warm"})", 400, "temperature: expected a number, got \"warm\""},
      {R"({"tempo": 10})", 400, "tempo: 0 (the model's) or between 20 and 400 BPM"},
      {R"({"key": "H:major"})", 400, "key: "},
      {R"({"instruments": "kazoo"})", 400, "instruments: "},
      {R"({"run": "third"})", 404, "unknown run 'third'"},
      {R"([1, 2])", 400, "the body must be a JSON object"},
      {R"({"bars": )", 400, "the body is not JSON"},
      {R"({"mode": "remix"})", 400, "mode 'remix': use compose, open, infill or accompany"},
      {R"({"mode": "open"})", 400, "mode open: send the song"},
      {R"({"mode": "infill", "from": "0123456789abcdef"})", 400, "infill: give fill_bars"},
      {R"({"mode": "accompany", "from": "0123456789abcdef", "add": "kazoo"})", 400, "kazoo"},
  };
  for (const auto& c : cases) {
    try {
      serve::parse_compose_request(serve::RequestBody{false, c.body, {}}, limits);
      ADD_FAILURE() << c.body << " was accepted";
    } catch (const serve::BadRequest& e) {
      EXPECT_EQ(e.status, c.status) << c.body;
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.body << " -> " << e.what();
    }
  }
}

TEST(ComposeRequest, ReadsFormsWithAFileAndTheSongModes) {
  serve::RequestLimits limits;
  limits.runs = {"run"};
  limits.max_upload_bytes = 4000;
  const std::string midi = walking_tune_midi(3, 16);
  ASSERT_LT(midi.size(), limits.max_upload_bytes);
  serve::RequestBody form{true, "", {{"params", "", R"({"bars": 3, "seed": 5})"}, {"temperature", "", "0.7"}, {"primer", "mine.mid", midi}}};
  auto r = serve::parse_compose_request(form, limits);
  EXPECT_EQ(r.g.bars, 3);
  EXPECT_DOUBLE_EQ(r.g.temperature, 0.7);
  ASSERT_TRUE(r.upload.has_value());
  EXPECT_EQ(r.upload->content, midi);
  EXPECT_EQ(r.params["primer"], "mine.mid");
  // The song modes: the upload is the song; fill_bars 1-based inclusive; sampling carried over.
  form.fields.push_back({"mode", "", "infill"});
  form.fields.push_back({"fill_bars", "", "2-3"});
  r = serve::parse_compose_request(form, limits);
  EXPECT_EQ(r.mode, "infill");
  EXPECT_EQ(r.fill.first_bar, 1);
  EXPECT_EQ(r.fill.end_bar, 3);
  EXPECT_DOUBLE_EQ(r.fill.temperature, 0.7);
  EXPECT_EQ(r.fill.seed, 5u);
  EXPECT_EQ(r.params["song"], "mine.mid");
  r = serve::parse_compose_request(serve::RequestBody{false, R"({"mode": "accompany", "from": "00000000000000aa", "add": "bass"})", {}}, limits);
  EXPECT_EQ(r.from, "00000000000000aa");
  EXPECT_TRUE(r.fill.add);
  ASSERT_TRUE(r.fill.instruments.has_value());
  EXPECT_EQ(r.fill.instruments->groups, music::parse_instruments("bass").groups);
  auto refusal = [&](const serve::RequestBody& b) {
    try {
      serve::parse_compose_request(b, limits);
    } catch (const serve::BadRequest& e) {
      return std::to_string(e.status) + " " + e.what();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal({true, "", {{"params", "", "[3]"}}}), "400 params: must be a JSON object");
  EXPECT_EQ(refusal({true, "", {{"primer", "big.mid", std::string(5000, 'M')}}}), "413 primer 'big.mid': 5000 bytes, more than the limit of 4000");
  EXPECT_EQ(refusal({true, "", {{"primer", "a.txt", "hello"}}}).rfind("400 primer is not a MIDI file: ", 0), 0u);
  EXPECT_EQ(refusal({true, "", {{"mode", "", "open"}, {"primer", "a.txt", "hello"}}}).rfind("400 song is not a MIDI file: ", 0), 0u);
}

// The queue's order, its limit, its positions and the storage cap, with no server.
TEST(JobQueue, QueuesInOrderRefusesWhenFullAndKeepsStorageUnderItsCap) {
  const std::string dir = temp_dir("job-queue");
  serve::JobQueue q(2, 100);
  std::vector<std::shared_ptr<serve::Job>> jobs;
  for (int i = 0; i < 3; ++i) {
    auto j = std::make_shared<serve::Job>();
    j->id = std::string(15, '0') + std::to_string(i);
    j->dir = dir + "/" + j->id;
    fs::create_directories(j->dir);
    jobs.push_back(j);
  }
  EXPECT_EQ(q.push(jobs[0]), 0);
  EXPECT_EQ(q.push(jobs[1]), 0);
  EXPECT_EQ(q.push(jobs[2]), 5);  // full: retry after ceil(5 s x 2 waiting / 2)
  EXPECT_FALSE(q.describe(jobs[2]->id).has_value());
  EXPECT_EQ((*q.describe(jobs[1]->id))["position"], 2);
  EXPECT_EQ((*q.describe(jobs[1]->id))["urls"]["midi"], "/api/pieces/" + jobs[1]->id + "/piece.mid");
  auto first = q.next();
  ASSERT_EQ(first, jobs[0]);
  EXPECT_EQ((*q.describe(jobs[0]->id))["status"], "running");
  EXPECT_EQ((*q.describe(jobs[1]->id))["position"], 1);
  q.finish(*first, "", 2.0, 60, {{"notes", 12}});
  auto d = *q.describe(jobs[0]->id);
  EXPECT_EQ(d["status"], "done");
  EXPECT_EQ(d["summary"]["notes"], 12);
  EXPECT_EQ(q.push(jobs[2]), 0);
  auto second = q.next();
  ASSERT_EQ(second, jobs[1]);
  q.finish(*second, "no model", 1.0, 60, {});  // 120 bytes stored: the oldest piece goes
  EXPECT_FALSE(q.describe(jobs[0]->id).has_value());
  EXPECT_FALSE(fs::exists(jobs[0]->dir));
  EXPECT_TRUE(fs::exists(jobs[1]->dir));
  d = *q.describe(jobs[1]->id);
  EXPECT_EQ(d["status"], "failed");
  EXPECT_EQ(d["error"], "no model");
  EXPECT_FALSE(d.contains("summary"));
  std::string seen;
  EXPECT_TRUE(q.with_job(jobs[1]->id, [&](const serve::Job& j) { seen = j.status; }));
  EXPECT_EQ(seen, "failed");
  EXPECT_FALSE(q.with_job("ffffffffffffffff", [](const serve::Job&) {}));
  // A paused worker gets nothing once stopped, and the queued job stays queued.
  q.set_paused(true);
  std::shared_ptr<serve::Job> got = jobs[0];
  std::thread worker([&] { got = q.next(); });
  q.stop();
  worker.join();
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ((*q.describe(jobs[2]->id))["status"], "queued");
  fs::remove_all(dir);
}
