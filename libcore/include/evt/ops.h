// Operations: what a worker shows to the host it runs on, fed by the worker observer
// (worker_observer.h), so that it reads the same on every queue backend:
//   --listen ADDR:PORT     GET /healthz (200 while the loop is alive and the store reachable,
//                          503 otherwise) and GET /metrics (Prometheus text format)
//   --metrics-file PATH    the same text, rewritten atomically every --metrics-interval and
//                          at exit (node_exporter's textfile collector)
//   NOTIFY_SOCKET          sd_notify without libsystemd: READY=1, STATUS=, WATCHDOG=1 while
//                          the loop is healthy, STOPPING=1
// and a warning, once per file, when a file that holds secrets is readable by others.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "evt/clock.h"
#include "evt/duration.h"
#include "evt/status.h"
#include "evt/worker_observer.h"

namespace evt {

struct OpsOptions {
  std::string listen;              // --listen ADDR:PORT, EVT_LISTEN; empty = no HTTP endpoint
  std::string metrics_file;        // --metrics-file PATH, EVT_METRICS_FILE; empty = none
  Millis metrics_interval{15000};  // --metrics-interval, EVT_METRICS_INTERVAL
  Millis tick{1000};               // how often the loop reports OnAlive at the least; the loop
                                   // counts as stuck after 3 ticks without one
  Clock* clock = &RealClock();     // not owned; outlives the Operations
  // Files that hold secrets (a password file, an HMAC secret file, the unit's env file):
  // each one that others may read is named in one warning. Empty paths are skipped.
  std::vector<std::string> secret_files;
};

// Adds --listen, --metrics-file and --metrics-interval (with their EVT_* variables) to
// `app`, bound to `*options`.
void AddOpsOptions(CLI::App& app, OpsOptions* options);

// The running operations: the HTTP endpoint's thread, the metrics file's writer, the
// sd_notify client. Destroying it stops the server, writes the metrics file one last time
// and joins every thread. REQUIRES: it outlives every call the loop makes to the observers
// it added (destroy it after the loop returned).
class Operations {
 public:
  virtual ~Operations() = default;
  // The TCP port the HTTP endpoint listens on (useful with port 0); 0 without --listen.
  virtual int port() const = 0;
  // The Prometheus text of the metrics now.
  virtual std::string MetricsText() const = 0;
};

// Starts what `options` asks for and adds its observers to `*observers`. Also reads
// NOTIFY_SOCKET and WATCHDOG_USEC (and removes them, with WATCHDOG_PID, from the
// environment, so handlers do not inherit them) and warns about readable secret files.
// Returns Usage for a malformed --listen or a bad interval, Config when the address
// cannot be bound (in use, not local), IOError when the metrics file's folder is not
// writable. Call after logging is set up and before the loop starts.
Result<std::unique_ptr<Operations>> AttachOperations(const OpsOptions& options,
                                                     ObserverList* observers);

}  // namespace evt
