#include "evt/exit_code.h"

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

}  // namespace evt
