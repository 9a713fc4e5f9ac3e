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
};

// Maps a Status to the exit code a command returns for it (0 for OK).
int ExitCodeFor(const Status& status);

}  // namespace evt
