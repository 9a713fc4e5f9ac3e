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
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "evt/duration.h"

namespace evt {

// The pids of this process's children, sorted: from /proc/self/task/*/children, or with
// `scan_proc` (or without those files: CONFIG_PROC_CHILDREN) from the parent pid in every
// /proc/PID/stat. A child born or reaped meanwhile may be missing or listed.
std::vector<pid_t> ListChildren(bool scan_proc = false);

class Reaper {
 public:
  // The one Reaper of this process (subreaping is a property of the process).
  static Reaper& Get();

  // Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that what a
  // handler leaves behind is reparented here rather than to init. Idempotent. Until it is
  // called, KillOrphans does nothing. False (errno set) when the kernel refuses.
  bool BecomeSubreaper();
  bool is_subreaper() const;

  // Held by RunProcess from just before it starts a handler until that handler is
  // registered (AddLeader): no sweep looks at this process's children meanwhile, so a
  // handler that has been started but not yet registered is never taken for an orphan.
  // Spawns on several threads may hold it at once.
  class SpawnLock {
   public:
    explicit SpawnLock(Reaper& reaper) : lock_(reaper.spawn_mu_) {}

   private:
    std::shared_lock<std::shared_mutex> lock_;
  };

  // A handler's leader (pid = its process group id) that RunProcess started and has not
  // reaped yet; only RunProcess reaps it. Remove it once it has been reaped, not before:
  // its zombie is still a child here, and a sweep must not reap it and steal its status.
  void AddLeader(pid_t pid);
  void RemoveLeader(pid_t pid);

  // Kills (SIGKILL) and reaps every child of this process that is an orphan a handler
  // left behind: any child except
  //  - a registered handler leader, or a member of its process group (the running attempt
  //    owns it and kills its group when it ends),
  //  - a member of this process's own process group (never a handler's: handlers run in
  //    their own groups; these are children the embedding program started itself).
  // A child that leads its own group (a daemon after setsid) is killed with its group.
  // What their deaths orphan in turn comes here too and is killed in the next round,
  // until a round finds nothing. Reaps with waitid on each pid only, never waitpid(-1).
  // Gives up after `bound`; what is left is killed and reaped by a later call. Returns
  // the number of processes killed. Thread-safe; one sweep runs at a time.
  int KillOrphans(Millis bound = Millis(2000));

 private:
  Reaper() = default;

  mutable std::mutex mu_;                   // guards leaders_ and subreaper_
  std::unordered_map<pid_t, int> leaders_;  // pid → count (a pid may come back once reaped)
  bool subreaper_ = false;
  std::shared_mutex spawn_mu_;  // shared: a spawn in progress; exclusive: a sweep's look
  std::mutex sweep_mu_;         // one sweep at a time
};

}  // namespace evt
