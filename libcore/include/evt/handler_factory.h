// Which Handler evt-work runs: a command per event (the default), an HTTP endpoint
// (--http URL) or long-lived co-processes (--pipe -- COMMAND).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "evt/handler.h"
#include "evt/handler_exec.h"
#include "evt/status.h"

namespace evt {

// The options that choose the handler kind, beyond the exec handler's own.
struct HandlerOptions {
  std::string http_url;                   // --http URL: POST each event there
  std::vector<std::string> http_headers;  // --header 'Name: value', repeatable
  std::string http_header_file;           // --header-file FILE: one header per line
  std::string hmac_secret_file;           // --hmac-secret-file FILE: sign each body
  bool pipe = false;                      // --pipe: the command is a long-lived co-process
};

// Adds --http, --header, --header-file, --hmac-secret-file and --pipe (with their EVT_*
// variables) to `app`, bound to `*options`.
void AddHandlerOptions(CLI::App& app, HandlerOptions* options);

// Builds the handler:
//   --http URL        HttpHandler (timeout, max_output_bytes from `exec`); no command allowed
//   --pipe            PipeHandler running exec.argv, `concurrency` co-processes at most
//                     (timeout, kill_after, max_output_bytes from `exec`)
//   neither           ExecHandler(exec)
// Usage error for contradictory options (--http with --pipe or with a command, --header
// without --http); Config error for a command that is missing or not executable, a bad
// URL, or an unreadable header or secret file.
Result<std::unique_ptr<Handler>> MakeHandler(const HandlerOptions& options,
                                             const ExecHandlerOptions& exec, int concurrency);

}  // namespace evt
