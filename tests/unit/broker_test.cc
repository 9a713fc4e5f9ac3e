#include "evt/broker.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "redis/queue_keys.h"

using evt::BrokerConfig;
using evt::ParseBrokerUrl;

TEST_CASE("no broker or - means NDJSON on stdin and stdout", "[broker]") {
  CHECK(ParseBrokerUrl("-")->kind == BrokerConfig::Kind::kStdio);
  CHECK(ParseBrokerUrl("")->kind == BrokerConfig::Kind::kStdio);
}

TEST_CASE("redis URLs give host, port, database, user and password", "[broker]") {
  auto c = ParseBrokerUrl("redis://localhost");
  REQUIRE(c.ok());
  CHECK(c->kind == BrokerConfig::Kind::kRedisTcp);
  CHECK(c->host == "localhost");
  CHECK(c->port == 6379);
  CHECK(c->db == 0);
  c = ParseBrokerUrl("redis://worker:s%40cret@10.0.0.5:6380/3");
  REQUIRE(c.ok());
  CHECK(c->user == "worker");
  CHECK(c->password == "s@cret");
  CHECK(c->host == "10.0.0.5");
  CHECK(c->port == 6380);
  CHECK(c->db == 3);
  CHECK(c->redacted == "redis://worker:***@10.0.0.5:6380/3");
  c = ParseBrokerUrl("redis://:only-pass@[::1]:7000");
  REQUIRE(c.ok());
  CHECK(c->user.empty());
  CHECK(c->password == "only-pass");
  CHECK(c->host == "::1");
  CHECK(c->port == 7000);
}

TEST_CASE("unix socket URLs take a path and an optional db", "[broker]") {
  auto c = ParseBrokerUrl("unix:///run/redis/redis.sock?db=2");
  REQUIRE(c.ok());
  CHECK(c->kind == BrokerConfig::Kind::kRedisUnix);
  CHECK(c->path == "/run/redis/redis.sock");
  CHECK(c->db == 2);
}

TEST_CASE("sqlite URLs take an absolute file path and an optional sync mode", "[broker]") {
  auto c = ParseBrokerUrl("sqlite:///var/lib/evt/evt.db");
  REQUIRE(c.ok());
  CHECK(c->kind == BrokerConfig::Kind::kSqlite);
  CHECK(c->is_durable());
  CHECK_FALSE(c->is_redis());
  CHECK(c->path == "/var/lib/evt/evt.db");
  CHECK_FALSE(c->sync_full);
  CHECK(c->redacted == "sqlite:///var/lib/evt/evt.db");
  c = ParseBrokerUrl("sqlite:///tmp/a b/e@v:t.db?sync=full");
  REQUIRE(c.ok());
  CHECK(c->path == "/tmp/a b/e@v:t.db");  // a file name's '@' and ':' are no credentials
  CHECK(c->sync_full);
  CHECK(c->redacted == "sqlite:///tmp/a b/e@v:t.db?sync=full");
  CHECK(evt::StripUrlPassword("sqlite:///x/u:p@h.db") == "sqlite:///x/u:p@h.db");
  CHECK_FALSE(ParseBrokerUrl("sqlite:///x.db?sync=normal")->sync_full);
  for (const char* bad : {"sqlite://relative.db", "sqlite://", "sqlite:///dir/",
                          "sqlite:///x.db?sync=off", "sqlite:///x.db?mode=ro"}) {
    auto b = ParseBrokerUrl(bad);
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().kind() == evt::Status::Kind::kUsage);
    CHECK_THAT(b.status().message(), Catch::Contains("sqlite"));
  }
}

TEST_CASE("a bad broker URL is a usage error that never shows the password", "[broker]") {
  for (const char* url :
       {"redis://u:topsecret@host:99999", "redis://u:topsecret@:6379", "amqp://u:topsecret@host",
        "redis://u:topsecret@host/notanumber", "unix://relative.sock", "unix:///x.sock?foo=1"}) {
    auto c = ParseBrokerUrl(url);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().kind() == evt::Status::Kind::kUsage);
    CHECK_THAT(c.status().message(), !Catch::Contains("topsecret"));
  }
}

TEST_CASE("the password comes from the URL, else the file, else the environment", "[broker]") {
  BrokerConfig c = *ParseBrokerUrl("redis://host");
  REQUIRE(evt::ResolveRedisPassword(&c, "", "from-env").ok());
  CHECK(c.password == "from-env");
  char path[] = "/tmp/evt_pw_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "from-file\n", 10) == 10);
  ::close(fd);
  c = *ParseBrokerUrl("redis://host");
  REQUIRE(evt::ResolveRedisPassword(&c, path, "from-env").ok());
  CHECK(c.password == "from-file");
  c = *ParseBrokerUrl("redis://:from-url@host");
  REQUIRE(evt::ResolveRedisPassword(&c, path, "from-env").ok());
  CHECK(c.password == "from-url");
  ::unlink(path);
  c = *ParseBrokerUrl("redis://host");
  CHECK(evt::ResolveRedisPassword(&c, "/nonexistent/pw", nullptr).kind() ==
        evt::Status::Kind::kConfig);
}

TEST_CASE("queue names and namespaces are checked", "[broker]") {
  CHECK(evt::ValidateQueueName("default").ok());
  CHECK(evt::ValidateQueueName("backups.prod-1_a").ok());
  CHECK_FALSE(evt::ValidateQueueName("").ok());
  CHECK_FALSE(evt::ValidateQueueName("has space").ok());
  CHECK_FALSE(evt::ValidateQueueName("brace{").ok());
  CHECK_FALSE(evt::ValidateQueueName(std::string(65, 'q')).ok());
  CHECK(evt::ValidateNamespace("evt").ok());
  CHECK(evt::ValidateNamespace("team:evt").ok());
  CHECK_FALSE(evt::ValidateNamespace("a{b}").ok());
}

TEST_CASE("every key of a queue carries the queue's hash tag", "[broker]") {
  evt::QueueKeys k("evt", "backups");
  for (const std::string& key : {k.stream(), k.delayed(), k.dlq(), k.audit(), k.workers(),
                                 k.worker("h:1"), k.idem("key"), k.ev("evt_1"), k.metrics(5)}) {
    CHECK(key.rfind("evt:{backups}:", 0) == 0);
  }
  CHECK(k.queues() == "evt:queues");
}

namespace {

// Percent-encodes every byte outside [A-Za-z0-9_.~-].
std::string Encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '_' || ch == '.' || ch == '~' || ch == '-') {
      out.push_back(static_cast<char>(ch));
    } else {
      out += {'%', hex[ch >> 4], hex[ch & 15]};
    }
  }
  return out;
}

// Passwords made of URL delimiters. Every one holds "Zq", a marker that appears nowhere
// else in the URLs below, so any echo of the password shows up as "Zq".
const std::vector<std::string>& DelimiterPasswords() {
  static const std::vector<std::string> passwords = {
      "Zq@",       "@Zq",      "Zq/",         "/Zq",         "Zq:",     ":Zq",
      "Zq?",       "?Zq",      "Zq#",         "#Zq",         "Zq[",     "[Zq]",
      "Zq]",       "Zq%",      "%Zq",         "Xp@ssw0rdZq", "ab/cdZq", "Zq@/:?#[]%",
      "%@/Zq/@%",  "Zq:@:/:@", "@@Zq@@",      "//Zq//",      "Zq?a=1#", "[::1]:6379Zq",
      "Zq@host:1", "Zq/3",     "a@b/c:d?eZq", "%zZq%4",      "Zq%%",    "#/?@Zq:[]"};
  return passwords;
}

bool HasNoPassword(const std::string& text) { return text.find("Zq") == std::string::npos; }

}  // namespace

TEST_CASE("a raw password made of URL delimiters is parsed exactly and never shown", "[broker]") {
  for (const std::string& pw : DelimiterPasswords()) {
    for (const std::string& tail : {std::string("host"), std::string("host:6380/3"),
                                    std::string("[::1]:7000"), std::string("10.0.0.5/2")}) {
      const std::string url = "redis://u1:" + pw + "@" + tail;
      INFO(url);
      auto c = ParseBrokerUrl(url);
      REQUIRE(c.ok());
      CHECK(c->user == "u1");
      // None holds '%' before two hex digits, so none holds an escape: each is literal.
      CHECK(c->password == pw);
      CHECK(c->host == (tail[0] == '[' ? "::1" : tail.substr(0, tail.find_first_of(":/"))));
      CHECK(HasNoPassword(c->redacted));
      CHECK(HasNoPassword(evt::RedactUrl(url)));
      CHECK(evt::RedactUrl(url) == "redis://u1:***@" + tail);
      CHECK(HasNoPassword(evt::StripUrlPassword(url)));
      CHECK(evt::StripUrlPassword(url) == "redis://u1@" + tail);
    }
  }
}

TEST_CASE("a percent-encoded password made of URL delimiters is parsed exactly", "[broker]") {
  for (const std::string& pw : DelimiterPasswords()) {
    const std::string url = "redis://u%40x:" + Encode(pw) + "@host:6380/3";
    INFO(url);
    auto c = ParseBrokerUrl(url);
    REQUIRE(c.ok());
    CHECK(c->user == "u@x");
    CHECK(c->password == pw);
    CHECK(c->host == "host");
    CHECK(c->port == 6380);
    CHECK(c->db == 3);
    CHECK(c->redacted == "redis://u%40x:***@host:6380/3");
  }
}

TEST_CASE("errors about a URL with a delimiter password never contain it", "[broker]") {
  for (const std::string& pw : DelimiterPasswords()) {
    for (const std::string& tail : {std::string("host:99999"), std::string("host/notanumber"),
                                    std::string(":6379"), std::string("[::1"), std::string("")}) {
      for (const std::string& scheme : {std::string("redis://"), std::string("rediss://"),
                                        std::string("amqp://"), std::string("redis:")}) {
        const std::string url = scheme + "u2:" + pw + "@" + tail;
        INFO(url);
        auto c = ParseBrokerUrl(url);
        CHECK_FALSE(c.ok());
        if (!c.ok()) CHECK(HasNoPassword(c.status().message()));
        CHECK(HasNoPassword(evt::RedactUrl(url)));
        CHECK(HasNoPassword(evt::StripUrlPassword(url)));
      }
    }
  }
}

TEST_CASE("the reported URLs of issue 6 are redacted whole", "[broker]") {
  auto c = ParseBrokerUrl("redis://u1:Xp@ssw0rd@host");
  REQUIRE(c.ok());
  CHECK(c->password == "Xp@ssw0rd");
  CHECK(c->host == "host");
  CHECK(c->redacted == "redis://u1:***@host");
  c = ParseBrokerUrl("redis://u2:ab/cdef@host");
  REQUIRE(c.ok());
  CHECK(c->password == "ab/cdef");
  CHECK(c->db == 0);
  CHECK(c->redacted == "redis://u2:***@host");
  auto bad = ParseBrokerUrl("redis://u2:ab/cdef@host/x");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), !Catch::Contains("cdef"));
}

TEST_CASE("a URL without a password is left as it is", "[broker]") {
  for (const char* url : {"redis://host", "redis://worker@host:6380/1", "unix:///run/r.sock?db=2",
                          "-", "redis://[::1]:7000"}) {
    CHECK(evt::RedactUrl(url) == url);
    CHECK(evt::StripUrlPassword(url) == url);
  }
  CHECK(evt::StripUrlPassword("redis://:pw@host:6379/0") == "redis://host:6379/0");
  CHECK(evt::RedactUrl("redis://:pw@host:6379/0") == "redis://:***@host:6379/0");
}

TEST_CASE("ScrubCredentialEnvironment wipes passwords from the environment block in place",
          "[broker]") {
  ::setenv("EVT_REDIS_PASSWORD", "envpw-Scrub-9", 1);
  ::setenv("EVT_BROKER", "redis://u1:Xp@ss/w0rd@127.0.0.1:6379/2", 1);
  const char* password = std::getenv("EVT_REDIS_PASSWORD");
  const char* broker = std::getenv("EVT_BROKER");
  const std::size_t password_length = std::strlen(password);
  evt::ScrubCredentialEnvironment();
  // The same bytes were overwritten (what /proc/<pid>/environ shows), not just unset.
  CHECK(std::string(password, password_length) == std::string(password_length, '\0'));
  CHECK(std::string(broker) == "redis://u1@127.0.0.1:6379/2");
  ::unsetenv("EVT_REDIS_PASSWORD");
  ::setenv("EVT_BROKER", "redis://127.0.0.1:6379", 1);
  evt::ScrubCredentialEnvironment();  // nothing to hide: unchanged
  CHECK(std::string(std::getenv("EVT_BROKER")) == "redis://127.0.0.1:6379");
  ::unsetenv("EVT_BROKER");
}
