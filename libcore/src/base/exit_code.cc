#include "evt/exit_code.h"

#include "evt/worker.h"

namespace evt {

int ExitCodeFor(const Status& status) {
  switch (status.kind()) {
    case Status::Kind::kOk:
      return kExitOk;
    case Status::Kind::kUsage:
      return kExitUsage;
    case Status::Kind::kInvalidArgument:
      return kExitDataErr;
    case Status::Kind::kNotFound:
      return kExitNoInput;
    case Status::Kind::kUnavailable:
      return kExitUnavailable;
    case Status::Kind::kIOError:
      return kExitIOErr;
    case Status::Kind::kTimeout:
    case Status::Kind::kTryAgain:
      return kExitTempFail;
    case Status::Kind::kConfig:
      return kExitConfig;
    case Status::Kind::kInternal:
      return kExitSoftware;
  }
  return kExitSoftware;
}

int ExitCodeForStdioRun(const Status& status, const WorkerStats& stats) {
  // Precedence: output or input that failed (74) says the results themselves may be
  // incomplete; bad input (65) says the producer needs fixing; failed events (123) say the
  // handler or what it depends on does.
  if (!status.ok() && status.kind() != Status::Kind::kInvalidArgument) {
    return ExitCodeFor(status);
  }
  if (!status.ok() || stats.invalid > 0) return kExitDataErr;
  if (stats.failed > 0 || stats.interrupted > 0) return kExitSomeFailed;
  return kExitOk;
}

}  // namespace evt
