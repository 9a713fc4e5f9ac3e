#include "evt/handler_factory.h"

#include <utility>

#include "evt/handler_args.h"
#include "evt/handler_http.h"
#include "evt/handler_pipe.h"

namespace evt {

void AddHandlerOptions(CLI::App& app, HandlerOptions* options) {
  app.add_option("--http", options->http_url, "POST each event to URL instead of running a command")
      ->envname("EVT_HTTP")
      ->type_name("URL");
  app.add_option("--header", options->http_headers, "Extra HTTP header 'Name: value' (repeatable)")
      ->envname("EVT_HEADER")
      ->type_name("'NAME: VALUE'")
      ->delimiter('\n')
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--header-file", options->http_header_file,
                 "Extra HTTP headers from FILE, one per line (keeps tokens out of ps)")
      ->envname("EVT_HEADER_FILE")
      ->type_name("FILE");
  app.add_option("--hmac-secret-file", options->hmac_secret_file,
                 "Sign each body (X-Evt-Signature: sha256=HMAC-SHA256) with the key in FILE")
      ->envname("EVT_HMAC_SECRET_FILE")
      ->type_name("FILE");
  app.add_flag("--pipe", options->pipe,
               "Run the command as --concurrency long-lived co-processes, one event per line")
      ->envname("EVT_PIPE");
}

Result<std::unique_ptr<Handler>> MakeHandler(const HandlerOptions& options,
                                             const ExecHandlerOptions& exec, int concurrency) {
  const bool http = !options.http_url.empty();
  if (http && options.pipe) return Status::Usage("--http and --pipe cannot be used together");
  if (!http && (!options.http_headers.empty() || !options.http_header_file.empty() ||
                !options.hmac_secret_file.empty())) {
    return Status::Usage("--header, --header-file and --hmac-secret-file need --http");
  }

  if (http) {
    if (!exec.argv.empty()) {
      return Status::Usage("--http takes no command: give either --http URL or -- COMMAND");
    }
    HttpHandlerOptions o;
    o.url = options.http_url;
    for (const std::string& h : options.http_headers) {
      if (Status s = AddHttpHeader(h, &o.headers); !s.ok()) return s;
    }
    if (!options.http_header_file.empty()) {
      if (Status s = ReadHttpHeaderFile(options.http_header_file, &o.headers); !s.ok()) return s;
    }
    if (!options.hmac_secret_file.empty()) {
      Result<std::string> secret = ReadSecretFile(options.hmac_secret_file);
      if (!secret.ok()) return secret.status();
      o.hmac_secret = std::move(*secret);
    }
    o.timeout = exec.timeout;
    o.max_output_bytes = exec.max_output_bytes;
    Result<std::unique_ptr<HttpHandler>> h = HttpHandler::Create(std::move(o));
    if (!h.ok()) return h.status();
    return std::unique_ptr<Handler>(std::move(*h));
  }

  if (options.pipe) {
    PipeHandlerOptions o;
    o.argv = exec.argv;
    o.processes = concurrency;
    o.timeout = exec.timeout;
    o.kill_after = exec.kill_after;
    o.max_output_bytes = exec.max_output_bytes;
    Result<std::unique_ptr<PipeHandler>> h = PipeHandler::Create(std::move(o));
    if (!h.ok()) return h.status();
    return std::unique_ptr<Handler>(std::move(*h));
  }

  if (Status s = ExecHandler::CheckCommand(exec.argv); !s.ok()) return s;
  if (Status s = CheckArgumentTemplates(exec.argv); !s.ok()) return s;
  return std::unique_ptr<Handler>(std::make_unique<ExecHandler>(exec));
}

}  // namespace evt
