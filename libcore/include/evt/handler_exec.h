// The exec handler: runs a command once per event, without a shell.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "evt/defaults.h"
#include "evt/handler.h"
#include "evt/outcome.h"

namespace evt {

struct ExecHandlerOptions {
  std::vector<std::string> argv;  // the command and its arguments; argv[0] searched in PATH
  Millis timeout = SharedDefaults::kHandlerTimeout;  // then SIGTERM to the process group
  Millis kill_after = SharedDefaults::kKillAfter;    // then SIGKILL to the group
  std::size_t max_output_bytes =
      SharedDefaults::kMaxOutputBytes;  // bound on captured stdout and stderr, each;
                                        // the rest is read and discarded
  ExitClassifier classifier;            // exit code → outcome, category
};

// Each Run(): fork + exec argv[0] (PATH search) in a new process group, with
//  - the event JSON (one line, newline-terminated) on stdin,
//  - EVT_EVENT_ID, EVT_EVENT_TYPE, EVT_IDEMPOTENCY_KEY, EVT_ATTEMPT, EVT_SOURCE,
//    EVT_CORRELATION_ID added to the worker's environment,
//  - PR_SET_PDEATHSIG(SIGKILL), so it dies if the worker thread that runs it dies,
//  - default signal dispositions and an empty signal mask.
// stdout and stderr are drained concurrently and kept up to max_output_bytes each, so a
// handler that writes gigabytes neither blocks nor grows memory. When the command exits,
// whatever is left of its process group is killed (SIGKILL), so no background child
// outlives the attempt. On timeout: SIGTERM to the group, SIGKILL after kill_after;
// the result is transient/timeout. On cancel: the same, reported as interrupted.
//
// A handler that daemonizes (fork, setsid, fork) leaves its process group, so killing the
// group misses it. Constructing an ExecHandler therefore makes the process a child
// subreaper (PR_SET_CHILD_SUBREAPER): such orphans are reparented to it, and the end of
// every attempt kills (with their groups) and reaps every child that is neither a running
// handler, nor in a running handler's group, nor in the process's own group; so does the
// destructor. An embedding program must start its own children in its own process group.
// Under systemd, KillMode=mixed also covers a worker killed by SIGKILL.
//
// The environment the handler gets has no evt credential: the variables of
// kCredentialEnvNames (broker.h) are removed, and EVT_BROKER loses its
// password (StripUrlPassword). Of its stderr, at most max_output_bytes per attempt reach
// AttemptContext::on_stderr_line; a line that crosses the bound is cut, and one last line
// "... N more bytes" counts what was not passed on.
class ExecHandler : public Handler {
 public:
  explicit ExecHandler(ExecHandlerOptions options);
  ~ExecHandler() override;
  ExecHandler(const ExecHandler&) = delete;
  ExecHandler& operator=(const ExecHandler&) = delete;
  HandlerResult Run(const AttemptContext& ctx) override;

  // Checks that argv[0] names an executable file (directly or in PATH). Config on failure.
  static Status CheckCommand(const std::vector<std::string>& argv);

 private:
  ExecHandlerOptions options_;
};

}  // namespace evt
