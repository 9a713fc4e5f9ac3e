// Process exit codes (sysexits.h) and the one table from Status kind to code.
// Every man page's EXIT STATUS section agrees with ExitCodeFor().
#pragma once

#include "evt/status.h"

namespace evt {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 64,        // EX_USAGE: bad command line
  kExitDataErr = 65,      // EX_DATAERR: some input was rejected
  kExitNoInput = 66,      // EX_NOINPUT: an input file is missing
  kExitUnavailable = 69,  // EX_UNAVAILABLE: broker unavailable
  kExitSoftware = 70,     // EX_SOFTWARE: internal error
  kExitIOErr = 74,        // EX_IOERR: read/write failed
  kExitTempFail = 75,     // EX_TEMPFAIL: try again later (backpressure)
  kExitConfig = 78,       // EX_CONFIG: bad configuration
  kExitSomeFailed = 123,  // as xargs(1): a stdio evt-work run where some events failed
};

// Maps a Status to the exit code a command returns for it (0 for OK).
int ExitCodeFor(const Status& status);

struct WorkerStats;  // worker.h

// The exit code of a stdio evt-work run from what RunStdioWorker returned and counted, so
// that cron, chronic, `set -e` and systemd timers see a failure. When several apply, the
// first wins:
//   74  I/O error: reading input, writing results or a dead letter failed (status IOError)
//   65  some input lines were rejected (invalid)
//   123 some events failed (dead letters: permanent, retries exhausted) or were interrupted
//       by a stop signal
//   0   every event read is done or a duplicate
// Any other non-OK status maps as ExitCodeFor().
int ExitCodeForStdioRun(const Status& status, const WorkerStats& stats);

}  // namespace evt
