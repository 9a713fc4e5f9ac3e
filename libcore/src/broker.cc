#include "evt/broker.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace evt {
namespace {

// Decodes %XX escapes (a password may hold '@' or ':').
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return false;
    }
    out->push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return true;
}

bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 6) return false;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

Status Bad(const BrokerConfig& c, const std::string& why) {
  return Status::Usage("--broker " + c.redacted + ": " + why);
}

bool NameChars(std::string_view s, std::string_view extra) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  std::size_t at = url.find('@', scheme + 3);
  std::size_t slash = url.find('/', scheme + 3);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::string(url);
  }
  std::size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<BrokerConfig> ParseBrokerUrl(std::string_view url) {
  BrokerConfig c;
  c.redacted = RedactUrl(url);
  if (url.empty() || url == "-") return c;
  if (url.rfind("unix://", 0) == 0) {
    c.kind = BrokerConfig::Kind::kRedisUnix;
    std::string_view rest = url.substr(7);
    std::size_t q = rest.find('?');
    c.path = std::string(rest.substr(0, q));
    if (c.path.empty() || c.path[0] != '/') {
      return Bad(c, "expected unix:///absolute/path/redis.sock[?db=N]");
    }
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !ParseInt(query.substr(3), 0, 100000, &c.db)) {
        return Bad(c, "the only query parameter is db=N");
      }
    }
    return c;
  }
  if (url.rfind("redis://", 0) != 0) {
    return Bad(c, "expected -, redis://[user[:password]@]host[:port][/db] or unix:///path?db=N");
  }
  c.kind = BrokerConfig::Kind::kRedisTcp;
  std::string_view rest = url.substr(8);
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 100000, &c.db))
      return Bad(c, "the database must be a number");
  }
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    if (!PercentDecode(user, &c.user)) return Bad(c, "bad %-escape in the user name");
    if (colon != std::string_view::npos &&
        !PercentDecode(userinfo.substr(colon + 1), &c.password)) {
      return Bad(c, "bad %-escape in the password");
    }
  }
  std::string_view host = authority;
  if (!host.empty() && host[0] == '[') {  // [::1]:6379
    std::size_t close = host.find(']');
    if (close == std::string_view::npos) return Bad(c, "unclosed [ in the host");
    c.host = std::string(host.substr(1, close - 1));
    std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':' || !ParseInt(after.substr(1), 1, 65535, &c.port)) {
        return Bad(c, "the port must be 1-65535");
      }
    }
  } else {
    std::size_t colon = host.rfind(':');
    c.host = std::string(host.substr(0, colon));
    if (colon != std::string_view::npos && !ParseInt(host.substr(colon + 1), 1, 65535, &c.port)) {
      return Bad(c, "the port must be 1-65535");
    }
  }
  if (c.host.empty()) return Bad(c, "no host");
  return c;
}

Status ResolveRedisPassword(BrokerConfig* c, const std::string& password_file,
                            const char* env_password) {
  if (!c->password.empty()) return Status::Ok();
  if (!password_file.empty()) {
    std::ifstream in(password_file);
    if (!in) {
      return Status::Config("--redis-password-file " + password_file + ": " + std::strerror(errno));
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) return Status::Config("--redis-password-file " + password_file + ": empty");
    c->password = line;
    return Status::Ok();
  }
  if (env_password != nullptr && *env_password != '\0') c->password = env_password;
  return Status::Ok();
}

Status ValidateQueueName(std::string_view queue) {
  if (!NameChars(queue, "_.-")) {
    return Status::Usage("--queue \"" + std::string(queue.substr(0, 80)) +
                         "\": must be 1-64 of [A-Za-z0-9_.-]");
  }
  return Status::Ok();
}

Status ValidateNamespace(std::string_view ns) {
  if (!NameChars(ns, "_.:-")) {
    return Status::Usage("--namespace \"" + std::string(ns.substr(0, 80)) +
                         "\": must be 1-64 of [A-Za-z0-9_.:-]");
  }
  return Status::Ok();
}

}  // namespace evt
