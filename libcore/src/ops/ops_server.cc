#include "ops/ops_server.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/fd.h"
#include "evt/event.h"

namespace evt {
namespace {

Status BadAddress(std::string_view text) {
  return Status::Usage("--listen " + std::string(text) +
                       ": expected ADDR:PORT, e.g. 127.0.0.1:9464, [::1]:9464 or :9464");
}

// Why `address` cannot be bound, from a bind of our own (cpp-httplib only says that it
// failed): "address already in use", "cannot assign requested address", ...
std::string BindError(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return gai_strerror(rc);
  }
  std::string why = "cannot bind";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd fd(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) continue;
    int yes = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || listen(fd.get(), 1) != 0) {
      why = std::strerror(errno);
    }
  }
  freeaddrinfo(found);
  return why;
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return BadAddress(text);
  ListenAddress out;
  std::string_view host = text.substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return BadAddress(text);
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return BadAddress(text);  // an IPv6 address needs brackets
  }
  out.host = host.empty() ? "0.0.0.0" : std::string(host);
  const std::string_view port = text.substr(colon + 1);
  if (port.size() > 5) return BadAddress(text);
  for (char c : port) {
    if (c < '0' || c > '9') return BadAddress(text);
    out.port = out.port * 10 + (c - '0');
  }
  if (out.port > 65535) return BadAddress(text);
  return out;
}

HealthReply MakeHealthReply(const HealthSnapshot& h) {
  Json j;
  j["status"] = h.healthy() ? "ok" : "unavailable";
  j["loop"] = !h.seen_alive ? "starting" : h.alive ? "alive" : "stuck";
  j["store"] = !h.seen_alive ? "unknown" : h.store_ok ? "reachable" : "unreachable";
  j["in_flight"] = h.last.in_flight;
  j["stopping"] = h.stopping;
  if (h.seen_alive) j["last_alive_ms_ago"] = h.since_alive.count();
  return {h.healthy() ? 200 : 503, j.dump() + "\n"};
}

struct OpsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
};

OpsServer::OpsServer(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

OpsServer::~OpsServer() {
  // stop() does nothing until the server thread has started listening: repeat it until
  // that thread is done, so that a server stopped right after its start does not hang.
  while (!impl_->finished.load()) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->thread.join();
}

Result<std::unique_ptr<OpsServer>> OpsServer::Start(const ListenAddress& address,
                                                    const HealthTracker* health,
                                                    const MetricsRegistry* metrics) {
  auto impl = std::make_unique<Impl>();
  // Two threads are plenty for a scraper and a health check; the default pool is larger.
  impl->server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // cpp-httplib's default is SO_REUSEPORT, with which a second worker on the same port
  // binds too and takes half of the scrapes: a port in use must be an error.
  impl->server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl->server.Get("/healthz", [health](const httplib::Request&, httplib::Response& res) {
    HealthReply reply = MakeHealthReply(health->Snapshot());
    res.status = reply.code;
    res.set_content(reply.body, "application/json");
  });
  impl->server.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  int port = address.port;
  if (port == 0) {
    port = impl->server.bind_to_any_port(address.host);
    if (port <= 0) port = -1;
  } else if (!impl->server.bind_to_port(address.host, port)) {
    port = -1;
  }
  if (port < 0) {
    return Status::Config("--listen " + address.host + ":" + std::to_string(address.port) +
                          ": cannot listen there: " + BindError(address));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->finished = true;
  });
  return std::unique_ptr<OpsServer>(new OpsServer(std::move(impl), port));
}

}  // namespace evt
