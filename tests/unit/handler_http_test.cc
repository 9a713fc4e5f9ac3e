// The HTTP handler against a real local HTTP server (cpp-httplib) started by each test on
// a free loopback port, and a raw TCP listener for broken connections. The servers run on
// their own threads and only record what they saw; every check runs on the test's thread.
#include "evt/handler_http.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace evt {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Event TestEvent(const std::string& key = "order-42") {
  Event e;
  e.doc = Json{{"schema_version", 1},
               {"event_id", "evt_01HX"},
               {"event_type", "order.created"},
               {"occurred_at", "2024-05-01T12:00:00.000Z"},
               {"source", "shop-1"},
               {"idempotency_key", key},
               {"correlation_id", "corr-7"},
               {"retry_count", 0},
               {"payload", Json{{"order", 42}, {"note", "caf\u00e9 \"quoted\""}}}};
  return e;
}

// What the server saw of one request.
struct Seen {
  std::string path;
  std::string body;
  httplib::Headers headers;
  int remote_port = 0;
};

// A cpp-httplib server on 127.0.0.1 and a free port, with scripted routes:
//   /status/N         replies N with the body "reply N"
//   /retry-seconds    429, Retry-After: 7
//   /retry-date       503, Retry-After: <an HTTP date 3 s from now>
//   /retry-once       429 with Retry-After: 7 the first time, then 500 without
//   /flaky            503 for the first two requests, then 200
//   /slow             waits (until the test ends, at most 5 s), then 200
//   /big              500 with a 10 000-byte body
//   /redirect         302 to /status/200
class TestServer {
 public:
  TestServer() {
    server_.set_keep_alive_max_count(100);
    server_.Post(R"(/status/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = std::stoi(req.matches[1]);
      res.set_content("reply " + std::string(req.matches[1]) + "\nsecond line", "text/plain");
    });
    server_.Post("/retry-seconds", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = 429;
      res.set_header("Retry-After", "7");
      res.set_content("slow down", "text/plain");
    });
    server_.Post("/retry-date", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = 503;
      std::time_t t = std::time(nullptr) + 3;
      std::tm tm{};
      gmtime_r(&t, &tm);
      char date[64];
      std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      res.set_header("Retry-After", date);
    });
    server_.Post("/retry-once", [this](const httplib::Request& req, httplib::Response& res) {
      const int n = Record(req);
      res.status = n == 1 ? 429 : 500;
      if (n == 1) res.set_header("Retry-After", "7");
    });
    server_.Post("/flaky", [this](const httplib::Request& req, httplib::Response& res) {
      const int n = Record(req);
      res.status = n <= 2 ? 503 : 200;
      res.set_content(n <= 2 ? "not yet" : "ok", "text/plain");
    });
    server_.Post("/slow", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      std::unique_lock<std::mutex> lock(mu_);
      released_cv_.wait_for(lock, milliseconds(5000), [this] { return released_; });
      res.status = 200;
    });
    server_.Post("/big", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = 500;
      res.set_content(std::string(10000, 'x'), "text/plain");
    });
    server_.Post("/redirect", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.set_redirect("/status/200");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const Clock::time_point until = Clock::now() + milliseconds(5000);
    while (!server_.is_running() && Clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  ~TestServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    released_cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  int Record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(Seen{req.path, req.body, req.headers, req.remote_port});
    return static_cast<int>(seen_.size());
  }

  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::vector<Seen> seen_;
};

// A raw TCP listener that accepts connections, reads the request, and then closes the
// connection without a reply: with an RST (reset) or a plain FIN (closed).
class BrokenServer {
 public:
  explicit BrokenServer(bool reset) : reset_(reset) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 8);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~BrokenServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int accepted() const { return accepted_; }

 private:
  void Serve() {
    const Clock::time_point until = Clock::now() + milliseconds(10000);
    while (!stop_ && Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      ++accepted_;
      // Read until the end of the headers (or a bound), so the client has sent its request.
      std::string got;
      char buf[4096];
      const Clock::time_point read_until = Clock::now() + milliseconds(2000);
      while (got.find("\r\n\r\n") == std::string::npos && Clock::now() < read_until) {
        pollfd c{conn, POLLIN, 0};
        if (poll(&c, 1, 50) <= 0) continue;
        const ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      if (reset_) {
        linger l{1, 0};  // close() sends RST
        setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      close(conn);
    }
  }

  bool reset_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A loopback port with nothing listening on it.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::unique_ptr<HttpHandler> MakeHttp(const std::string& url, HttpHandlerOptions o = {}) {
  o.url = url;
  if (o.timeout == milliseconds(120000)) o.timeout = milliseconds(5000);
  Result<std::unique_ptr<HttpHandler>> h = HttpHandler::Create(std::move(o));
  INFO((h.ok() ? std::string() : h.status().message()));
  REQUIRE(h.ok());
  return std::move(*h);
}

HandlerResult Post(HttpHandler& h, const Event& e, int attempt = 1,
                   const Cancellation* cancel = nullptr) {
  AttemptContext ctx;
  ctx.event = &e;
  ctx.attempt = attempt;
  ctx.cancel = cancel;
  return h.Run(ctx);
}

std::string Header(const Seen& s, const std::string& name) {
  auto it = s.headers.find(name);
  return it == s.headers.end() ? "<none>" : it->second;
}

std::string HmacHex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", mac[i]);
    hex += two;
  }
  return hex;
}

std::string TempFile(const std::string& content, mode_t mode = 0600) {
  char path[] = "/tmp/evt-http-test.XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  fchmod(fd, mode);
  close(fd);
  return path;
}

TEST_CASE("HTTP handler: 2xx is done and the request carries the event and its headers",
          "[handler_http]") {
  TestServer server;
  HttpHandlerOptions o;
  o.headers = {"Authorization: Bearer t0ken", "X-Team: backups"};
  o.hmac_secret = "s3cret";
  auto h = MakeHttp(server.Url("/status/204"), o);
  const Event e = TestEvent();
  HandlerResult r = Post(*h, e, 3);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.category == Category::kNone);
  CHECK(r.error.empty());
  CHECK(r.retry_after == milliseconds(0));
  CHECK_FALSE(r.fatal);

  std::vector<Seen> seen = server.seen();
  REQUIRE(seen.size() == 1);
  const Seen& s = seen[0];
  CHECK(s.path == "/status/204");
  CHECK(s.body == e.doc.dump());
  CHECK(Json::parse(s.body) == e.doc);
  CHECK(Header(s, "Content-Type") == "application/json");
  CHECK(Header(s, "Idempotency-Key") == "order-42");
  CHECK(Header(s, "X-Evt-Event-Id") == "evt_01HX");
  CHECK(Header(s, "X-Evt-Event-Type") == "order.created");
  CHECK(Header(s, "X-Evt-Attempt") == "3");
  CHECK(Header(s, "Authorization") == "Bearer t0ken");
  CHECK(Header(s, "X-Team") == "backups");
  CHECK(Header(s, "Expect") == "<none>");
  // The signature is HMAC-SHA256 over the exact bytes received, computed independently.
  CHECK(Header(s, "X-Evt-Signature") == "sha256=" + HmacHex("s3cret", s.body));
}

TEST_CASE("HTTP handler: no signature header without a secret", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/status/200"));
  CHECK(Post(*h, TestEvent()).outcome == Outcome::kDone);
  std::vector<Seen> seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(Header(seen[0], "X-Evt-Signature") == "<none>");
}

TEST_CASE("HTTP handler: status codes map to outcomes and categories", "[handler_http]") {
  TestServer server;
  struct Case {
    int code;
    Outcome outcome;
    Category category;
  };
  const Case cases[] = {
      {200, Outcome::kDone, Category::kNone},
      {201, Outcome::kDone, Category::kNone},
      {500, Outcome::kTransient, Category::kDependency},
      {502, Outcome::kTransient, Category::kDependency},
      {503, Outcome::kTransient, Category::kDependency},
      {408, Outcome::kTransient, Category::kDependency},
      {425, Outcome::kTransient, Category::kDependency},
      {429, Outcome::kTransient, Category::kDependency},
      {401, Outcome::kPermanent, Category::kAuth},
      {403, Outcome::kPermanent, Category::kAuth},
      {400, Outcome::kPermanent, Category::kData},
      {404, Outcome::kPermanent, Category::kData},
      {422, Outcome::kPermanent, Category::kData},
  };
  for (const Case& c : cases) {
    auto h = MakeHttp(server.Url("/status/" + std::to_string(c.code)));
    HandlerResult r = Post(*h, TestEvent());
    INFO("HTTP " << c.code << ": " << r.error);
    CHECK(r.outcome == c.outcome);
    CHECK(r.category == c.category);
    if (c.outcome != Outcome::kDone) {
      // The start of the body, on one line, is the error text.
      CHECK(r.error == "HTTP " + std::to_string(c.code) + ": reply " + std::to_string(c.code) +
                           " second line");
      CHECK(r.output == "reply " + std::to_string(c.code) + "\nsecond line");
    }
    CHECK(r.retry_after == milliseconds(0));
  }
}

TEST_CASE("HTTP handler: a redirect is not followed and is permanent", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/redirect"));
  HandlerResult r = Post(*h, TestEvent());
  CHECK(r.outcome == Outcome::kPermanent);
  CHECK(r.category == Category::kData);
  CHECK(r.error.rfind("HTTP 302", 0) == 0);
  CHECK(server.seen().size() == 1);
}

TEST_CASE("HTTP handler: Retry-After in seconds is the minimum delay", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/retry-seconds"));
  HandlerResult r = Post(*h, TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kDependency);
  CHECK(r.retry_after == milliseconds(7000));
  CHECK(r.error == "HTTP 429: slow down");
}

TEST_CASE("HTTP handler: Retry-After as an HTTP date", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/retry-date"));
  HandlerResult r = Post(*h, TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.error == "HTTP 503");
  // Three seconds from the server's clock, in whole seconds.
  CHECK(r.retry_after >= milliseconds(1000));
  CHECK(r.retry_after <= milliseconds(4000));
}

TEST_CASE("HTTP handler: a Retry-After does not leak into the next request", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/retry-once"));
  CHECK(Post(*h, TestEvent()).retry_after == milliseconds(7000));
  HandlerResult second = Post(*h, TestEvent());  // the same handle, a reply without one
  CHECK(second.error == "HTTP 500");
  CHECK(second.retry_after == milliseconds(0));
}

TEST_CASE("HTTP handler: 200 after two failures", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/flaky"));
  const Event e = TestEvent();
  CHECK(Post(*h, e, 1).outcome == Outcome::kTransient);
  CHECK(Post(*h, e, 2).outcome == Outcome::kTransient);
  HandlerResult r = Post(*h, e, 3);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.output == "ok");
  std::vector<Seen> seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(Header(seen[0], "X-Evt-Attempt") == "1");
  CHECK(Header(seen[2], "X-Evt-Attempt") == "3");
  // A retry is the same delivery: the same idempotency key every time.
  CHECK(Header(seen[2], "Idempotency-Key") == "order-42");
}

TEST_CASE("HTTP handler: one connection is reused for requests on one thread", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/status/200"));
  for (int i = 0; i < 6; ++i) CHECK(Post(*h, TestEvent(), i + 1).outcome == Outcome::kDone);
  std::vector<Seen> seen = server.seen();
  REQUIRE(seen.size() == 6);
  std::set<int> ports;
  for (const Seen& s : seen) ports.insert(s.remote_port);
  CHECK(ports.size() == 1);
}

TEST_CASE("HTTP handler: concurrent threads each get a connection", "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/status/200"));
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      const Event e = TestEvent();
      for (int i = 0; i < 5; ++i) {
        if (Post(*h, e).outcome == Outcome::kDone) ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(done == 20);
  std::vector<Seen> seen = server.seen();
  CHECK(seen.size() == 20);
  std::set<int> ports;
  for (const Seen& s : seen) ports.insert(s.remote_port);
  CHECK(ports.size() >= 1);
  CHECK(ports.size() <= 4);  // never more connections than threads
}

TEST_CASE("HTTP handler: a slow reply past the timeout is a transient timeout", "[handler_http]") {
  TestServer server;
  HttpHandlerOptions o;
  o.timeout = milliseconds(300);
  auto h = MakeHttp(server.Url("/slow"), o);
  const Clock::time_point start = Clock::now();
  HandlerResult r = Post(*h, TestEvent());
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kTimeout);
  CHECK(r.error.rfind("timed out after 300ms", 0) == 0);
  CHECK_FALSE(r.interrupted);
  CHECK(took >= milliseconds(250));
  CHECK(took < milliseconds(3000));
}

TEST_CASE("HTTP handler: cancellation aborts the transfer and reports interrupted",
          "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/slow"));
  Cancellation cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel.Cancel();
  });
  const Clock::time_point start = Clock::now();
  HandlerResult r = Post(*h, TestEvent(), 1, &cancel);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  canceller.join();
  CHECK(r.interrupted);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(took < milliseconds(2500));  // libcurl checks about once a second while idle

  // Already cancelled: nothing is sent.
  const std::size_t before = server.seen().size();
  HandlerResult again = Post(*h, TestEvent(), 1, &cancel);
  CHECK(again.interrupted);
  CHECK(server.seen().size() == before);
}

TEST_CASE("HTTP handler: connection refused is a transient network failure", "[handler_http]") {
  auto h = MakeHttp("http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook");
  HandlerResult r = Post(*h, TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kNetwork);
  CHECK(r.error.find("connect") != std::string::npos);
}

TEST_CASE("HTTP handler: a connection reset is a transient network failure", "[handler_http]") {
  BrokenServer server(/*reset=*/true);
  auto h = MakeHttp(server.Url());
  HandlerResult r = Post(*h, TestEvent());
  INFO(r.error);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kNetwork);
  CHECK(server.accepted() >= 1);
}

TEST_CASE("HTTP handler: a connection closed without a reply is a transient network failure",
          "[handler_http]") {
  BrokenServer server(/*reset=*/false);
  auto h = MakeHttp(server.Url());
  HandlerResult r = Post(*h, TestEvent());
  INFO(r.error);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kNetwork);
  CHECK(r.error.find("Empty reply") != std::string::npos);
}

TEST_CASE("HTTP handler: the body is kept up to max_output_bytes", "[handler_http]") {
  TestServer server;
  HttpHandlerOptions o;
  o.max_output_bytes = 100;
  auto h = MakeHttp(server.Url("/big"), o);
  HandlerResult r = Post(*h, TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.output == std::string(100, 'x'));
  CHECK(r.error == "HTTP 500: " + std::string(100, 'x') + "...");

  auto big = MakeHttp(server.Url("/big"));
  HandlerResult b = Post(*big, TestEvent());
  CHECK(b.output.size() == 10000);
  CHECK(b.error.size() < 1024);  // one bounded line whatever the body
}

TEST_CASE("HTTP handler: an idempotency key that cannot be a header is permanent data",
          "[handler_http]") {
  TestServer server;
  auto h = MakeHttp(server.Url("/status/200"));
  HandlerResult r = Post(*h, TestEvent("a\r\nX-Injected: 1"));
  CHECK(r.outcome == Outcome::kPermanent);
  CHECK(r.category == Category::kData);
  CHECK(r.error.find("Idempotency-Key") != std::string::npos);
  CHECK(server.seen().empty());
}

TEST_CASE("HTTP handler: bad URLs and headers are refused at start", "[handler_http]") {
  auto create = [](const std::string& url, std::vector<std::string> headers = {}) {
    HttpHandlerOptions o;
    o.url = url;
    o.headers = std::move(headers);
    return HttpHandler::Create(std::move(o)).status();
  };
  CHECK(create("ftp://example.com/").kind() == Status::Kind::kConfig);
  CHECK(create("not a url").kind() == Status::Kind::kConfig);
  CHECK(create("").kind() == Status::Kind::kConfig);
  CHECK(create("https://user:pw@example.com/hook").ok());
  // A credential in the URL never appears in a message.
  CHECK(create("gopher://user:pw@example.com/").message().find("pw") == std::string::npos);
  CHECK(create("http://127.0.0.1/", {"X-Evt-Attempt: 9"}).kind() == Status::Kind::kConfig);
}

TEST_CASE("AddHttpHeader checks and normalizes one header", "[handler_http]") {
  std::vector<std::string> h;
  CHECK(AddHttpHeader("Authorization:   Bearer abc  ", &h).ok());
  CHECK(h == std::vector<std::string>{"Authorization: Bearer abc"});
  CHECK(AddHttpHeader("no colon", &h).kind() == Status::Kind::kUsage);
  CHECK(AddHttpHeader(": value", &h).kind() == Status::Kind::kUsage);
  CHECK(AddHttpHeader("Bad Name: v", &h).kind() == Status::Kind::kUsage);
  CHECK(AddHttpHeader("X-Empty:", &h).kind() == Status::Kind::kUsage);
  CHECK(AddHttpHeader("X-A: a\rb", &h).kind() == Status::Kind::kUsage);
  for (const char* reserved : {"Content-Type: text/plain", "content-length: 3",
                               "Idempotency-Key: k", "X-EVT-Signature: x", "Expect: 100"}) {
    INFO(reserved);
    CHECK(AddHttpHeader(reserved, &h).kind() == Status::Kind::kUsage);
  }
  // A rejected value (maybe a token) is not repeated in the message.
  CHECK(AddHttpHeader("X-A: s3cr3t\n", &h).message().find("s3cr3t") == std::string::npos);
  CHECK(h.size() == 1);
}

TEST_CASE("ReadHttpHeaderFile reads one header per line", "[handler_http]") {
  const std::string path =
      TempFile("# the API token\nAuthorization: Bearer abc\n\n  X-Team: backups\r\n");
  std::vector<std::string> h{"X-First: 1"};
  REQUIRE(ReadHttpHeaderFile(path, &h).ok());
  CHECK(h ==
        std::vector<std::string>{"X-First: 1", "Authorization: Bearer abc", "X-Team: backups"});
  unlink(path.c_str());

  const std::string bad = TempFile("X-Ok: 1\nbroken line\n");
  Status s = ReadHttpHeaderFile(bad, &h);
  CHECK(s.kind() == Status::Kind::kConfig);
  CHECK(s.message().find(bad + ":2:") == 0);
  unlink(bad.c_str());
  CHECK(ReadHttpHeaderFile("/nonexistent/headers", &h).kind() == Status::Kind::kConfig);
}

TEST_CASE("ReadSecretFile drops one trailing newline and refuses an empty file", "[handler_http]") {
  const std::string path = TempFile("s3cret\n");
  Result<std::string> s = ReadSecretFile(path);
  REQUIRE(s.ok());
  CHECK(*s == "s3cret");
  unlink(path.c_str());
  const std::string empty = TempFile("\n");
  CHECK(ReadSecretFile(empty).status().kind() == Status::Kind::kConfig);
  unlink(empty.c_str());
  CHECK(ReadSecretFile("/nonexistent/secret").status().kind() == Status::Kind::kConfig);
}

}  // namespace
}  // namespace evt
