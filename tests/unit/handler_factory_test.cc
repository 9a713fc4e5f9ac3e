#include "evt/handler_factory.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "evt/handler_http.h"
#include "evt/handler_pipe.h"

namespace evt {
namespace {

TEST_CASE("MakeHandler chooses the handler and refuses contradictions", "[handler_factory]") {
  ExecHandlerOptions exec;
  HandlerOptions http;
  http.http_url = "http://127.0.0.1:1/hook";
  Result<std::unique_ptr<Handler>> h = MakeHandler(http, exec, 1);
  CHECK(h.ok());
  CHECK(dynamic_cast<HttpHandler*>(h->get()) != nullptr);

  exec.argv = {"/bin/true"};
  CHECK(MakeHandler(http, exec, 1).status().kind() == Status::Kind::kUsage);  // URL + command
  HandlerOptions both = http;
  both.pipe = true;
  CHECK(MakeHandler(both, exec, 1).status().kind() == Status::Kind::kUsage);
  HandlerOptions header_only;
  header_only.http_headers = {"X-A: 1"};
  CHECK(MakeHandler(header_only, exec, 1).status().kind() == Status::Kind::kUsage);

  HandlerOptions none;
  Result<std::unique_ptr<Handler>> plain = MakeHandler(none, exec, 1);
  REQUIRE(plain.ok());
  CHECK(dynamic_cast<ExecHandler*>(plain->get()) != nullptr);
  exec.argv = {"/nonexistent/handler"};
  CHECK(MakeHandler(none, exec, 1).status().kind() == Status::Kind::kConfig);

  HandlerOptions with_file = http;
  with_file.hmac_secret_file = "/nonexistent/secret";
  exec.argv.clear();
  CHECK(MakeHandler(with_file, exec, 1).status().kind() == Status::Kind::kConfig);
}

TEST_CASE("MakeHandler builds a pipe handler for --pipe", "[handler_factory]") {
  ExecHandlerOptions exec;
  HandlerOptions pipe;
  pipe.pipe = true;
  Result<std::unique_ptr<Handler>> none = MakeHandler(pipe, exec, 2);
  CHECK(none.status().kind() == Status::Kind::kConfig);
  CHECK(none.status().message().find("--pipe needs a command") != std::string::npos);
  exec.argv = {"/bin/cat"};
  Result<std::unique_ptr<Handler>> h = MakeHandler(pipe, exec, 2);
  REQUIRE(h.ok());
  CHECK(dynamic_cast<PipeHandler*>(h->get()) != nullptr);
}

}  // namespace
}  // namespace evt
