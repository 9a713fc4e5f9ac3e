// The HTTP handler: POSTs each event to a URL (evt-work --http URL).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "evt/defaults.h"
#include "evt/handler.h"
#include "evt/status.h"

namespace evt {

struct HttpHandlerOptions {
  std::string url;                   // http:// or https://; may hold a token, never logged
  std::vector<std::string> headers;  // extra "Name: value" lines (--header, --header-file)
  std::string hmac_secret;           // non-empty: sign each body (--hmac-secret-file)
  Millis timeout =
      SharedDefaults::kHandlerTimeout;  // the whole exchange, connect included; 0 = no limit
  std::size_t max_output_bytes =
      SharedDefaults::kMaxOutputBytes;  // response body kept (output, error text)
};

// Each Run() POSTs the event, one line of JSON, with
//   Content-Type: application/json
//   Idempotency-Key: <idempotency_key>
//   X-Evt-Event-Id, X-Evt-Event-Type, X-Evt-Attempt
//   X-Evt-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>  (with a secret)
// and the extra headers. Outcomes:
//   2xx                           done
//   408, 425, 429, 5xx            transient, dependency (Retry-After → retry_after)
//   401, 403                      permanent, auth
//   other 4xx, 1xx, 3xx           permanent, data (redirects are not followed)
//   no response: DNS, connect,    transient, network
//     TLS, connection lost
//   --timeout passed              transient, timeout
//   cancelled                     transient, timeout, interrupted
// The error of a failure is "HTTP 503: <the start of the body, one line>"; the body is
// kept up to max_output_bytes in HandlerResult::output.
//
// Connections are reused: each Run takes an idle libcurl handle (the one this thread
// used last, when no other thread took it) with its open keep-alive connection, so
// --concurrency N workers hold at most N connections. Thread-safe.
class HttpHandler : public Handler {
 public:
  // Checks the URL (http or https) and the headers. Config error naming what is wrong.
  static Result<std::unique_ptr<HttpHandler>> Create(HttpHandlerOptions options);
  ~HttpHandler() override;

  HandlerResult Run(const AttemptContext& ctx) override;

 private:
  struct Pool;
  explicit HttpHandler(HttpHandlerOptions options);

  HttpHandlerOptions options_;
  std::unique_ptr<Pool> pool_;
};

// Checks one header line "Name: value" (a token name, a colon, a value without control
// characters) and appends it, trimmed, to `headers`. Headers evt-work sets itself
// (Content-Type, Content-Length, Idempotency-Key, X-Evt-*, ...) may not be given. Usage
// error naming the header (its value is not repeated: it may be a token).
Status AddHttpHeader(std::string_view line, std::vector<std::string>* headers);

// Reads header lines from FILE, one per line; blank lines and lines starting with '#' are
// skipped. Config error naming the file and the line. Warns once when the file is readable
// by others.
Status ReadHttpHeaderFile(const std::string& path, std::vector<std::string>* headers);

// Reads a secret (an HMAC key) from FILE: its whole content without one trailing newline.
// Config error when it cannot be read or is empty. Warns when others may read it.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace evt
