// Private: what evt-work does about processes its handlers leave behind.
//
// A handler that daemonizes (fork, setsid, fork again) moves out of the process group
// that RunProcess kills at the end of an attempt, and its orphan used to be reparented to
// init and run on. As a child subreaper, this process inherits those orphans instead, and
// the Reaper kills and reaps them. RunProcess (subprocess.cc) registers each handler it
// starts, so that a sweep can tell a running handler from an orphan.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "evt/duration.h"

namespace evt {

// Where ListChildren looks.
enum class ChildSource {
  // /proc/self/task/PID/children: the main thread's children. The kernel reparents
  // orphans to the first live thread of the subreaper, the main thread, so this finds
  // every orphan with one read (a handler is listed under the thread that started it).
  kOrphanThread,
  kAllThreads,  // every /proc/self/task/*/children
  kProcScan,    // the parent pid in every /proc/PID/stat: slow (milliseconds)
};

// The pids of this process's children, sorted. Without the children files (a kernel
// built without CONFIG_PROC_CHILDREN) or the main thread's, falls back to the next source
// down. A child born or reaped meanwhile may be missing or listed.
std::vector<pid_t> ListChildren(ChildSource source);

class Reaper {
 public:
  // The one Reaper of this process (subreaping is a property of the process).
  static Reaper& Get();

  // Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that what a
  // handler leaves behind is reparented here rather than to init. Idempotent. Until it is
  // called, KillOrphans does nothing. False (errno set) when the kernel refuses.
  bool BecomeSubreaper();
  bool is_subreaper() const;

  // RunProcess brackets the start of a handler with these: BeginSpawn just before the
  // fork, EndSpawn(pid) once it is known (pid <= 0: the fork failed), which registers the
  // handler's leader (its pid is its process group id) until RemoveLeader. Only
  // RunProcess reaps a leader; call RemoveLeader after it has been reaped, not before:
  // its zombie is still a child here, and a sweep must not reap it and steal its status.
  void BeginSpawn();
  void EndSpawn(pid_t pid);
  void RemoveLeader(pid_t pid);

  // Kills (SIGKILL) and reaps every child of this process that is an orphan a handler
  // left behind: any child except
  //  - a registered handler leader, or a member of its process group (the running attempt
  //    owns it and kills its group when it ends),
  //  - a member of this process's own process group (never a handler's: handlers run in
  //    their own groups; these are children the embedding program started itself),
  //  - while a spawn is under way, a child that leads its own group within our session,
  //    as a handler that is being started does (it is left to a later sweep).
  // A child that leads its own group (a daemon after setsid) is killed with its group.
  // What their deaths orphan in turn comes here too and is killed in the next round,
  // until a round finds nothing. Reaps with waitid on each pid only, never waitpid(-1).
  // Gives up after `bound`; what is left is killed and reaped by a later call. Returns
  // the number of orphans killed and reaped. Thread-safe; one sweep runs at a time.
  int KillOrphans(Millis bound = Millis(2000), ChildSource source = ChildSource::kOrphanThread);

 private:
  Reaper() = default;

  mutable std::mutex mu_;  // guards the fields below; held while a sweep picks its victims
  std::unordered_map<pid_t, int> leaders_;  // pid → count (a pid may come back once reaped)
  int spawning_ = 0;                        // spawns between BeginSpawn and EndSpawn
  bool subreaper_ = false;
  std::mutex sweep_mu_;  // one sweep at a time
};

}  // namespace evt
