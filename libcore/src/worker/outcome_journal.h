// PRIVATE: the local outcome journal of a queue worker (DESIGN.md, "Delivery semantics").
//
// When a handler exits, its outcome is appended to this process's journal file and
// fdatasync'ed BEFORE the worker tries to commit it to the store; a successful commit
// retires it. So a worker stopped (SIGTERM during an outage) or killed between the
// handler's exit and the commit loses nothing: the next worker started on this host for
// the same queue replays the journal and commits what it holds. The store's per-delivery
// commit marker makes a replayed commit harmless.
//
// Files: <state dir>/<scope name>-<pid>-<random>.journal, one per worker process, held
// under flock(LOCK_EX) while the process lives. A journal file whose lock can be taken
// belongs to a process that is gone: AdoptOrphans takes it over. The scope name is a hash
// of where the outcomes are committed (store address, database, namespace, queue, group),
// so workers of other stores or queues on the same host never replay each other's files.
//
// Format: one record per line, "<crc32 as 8 hex digits> <JSON>\n". A line whose checksum
// does not match, or a last line without its newline (torn by a crash mid-write), is
// ignored. Records: {"op":"outcome","seq":N,...} and {"op":"retire","seq":N}.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evt/dead_reason.h"
#include "evt/queue.h"
#include "evt/status.h"

namespace evt {

// How an attempt ended: which Queue Finish* call commits it.
enum class JournalOutcome { kDone, kRetry, kDead, kDuplicate };
std::string_view JournalOutcomeName(JournalOutcome o);  // "done", "retry", "dead", "duplicate"

// One outcome waiting to be committed: everything the Finish* call needs.
struct JournalRecord {
  std::uint64_t seq = 0;  // assigned by Append; unique within one file
  JournalOutcome outcome = JournalOutcome::kDone;
  AttemptEnd end;                              // delivery id, key, lease owner, attempt, ...
  std::string next_raw;                        // kRetry: the event with retry_count raised
  UnixMillis due = 0;                          // kRetry: when it is due
  DeadReason reason = DeadReason::kPermanent;  // kDead
  std::string raw;                             // kDead: the event as delivered
};

// The state folder used when --state-dir is not given: /var/lib/evt for root, else
// $XDG_STATE_HOME/evt, else $HOME/.local/state/evt. Config error when none applies.
Result<std::string> DefaultStateDir(bool root, const char* xdg_state_home, const char* home);
// The same for this process (geteuid, the environment).
Result<std::string> DefaultStateDir();

// Creates `dir` (and missing parents; the folder itself with mode 0700) and checks that
// files can be created in it. Config error naming the folder and the reason.
Status PrepareStateDir(const std::string& dir);

// The file-name prefix of a scope: 16 hex digits of its SHA-256.
std::string JournalScopeName(const std::string& scope);

// One journal file, held under its lock until Close() or destruction. Append, Retire,
// Live and live_count are thread-safe.
class OutcomeJournal {
 public:
  // A new journal of this process for `scope` in `dir` (which must exist). Config error
  // naming the file when it cannot be created or locked.
  static Result<std::unique_ptr<OutcomeJournal>> Create(const std::string& dir,
                                                        const std::string& scope);
  // The journals of `scope` in `dir` whose process is gone (their lock could be taken),
  // each now locked by the caller and holding its live records (Live()). Files of live
  // processes, of other scopes, and ones that vanish meanwhile are skipped. IOError when
  // `dir` cannot be read.
  static Result<std::vector<std::unique_ptr<OutcomeJournal>>> AdoptOrphans(
      const std::string& dir, const std::string& scope);

  ~OutcomeJournal();  // Close()
  OutcomeJournal(const OutcomeJournal&) = delete;
  OutcomeJournal& operator=(const OutcomeJournal&) = delete;

  // Appends `record` (setting record->seq) and fdatasyncs the file before returning.
  // On failure nothing of it stays in the file; IOError naming the file.
  Status Append(JournalRecord* record);
  // Append of several records in one write and one fdatasync (the outcomes of a batch).
  // On failure none of them stays live.
  Status Append(const std::vector<JournalRecord*>& records);
  // Marks the record `seq` committed. Not synced: a retire lost in a crash only replays a
  // commit the store already holds (a no-op). When nothing in the file is live any more
  // and it is past 256 KiB, the file is emptied. IOError naming the file.
  Status Retire(std::uint64_t seq);
  // Retire of each of `seqs`, in one write.
  Status Retire(const std::vector<std::uint64_t>& seqs);
  // The records not retired yet, oldest first.
  std::vector<JournalRecord> Live() const;
  std::size_t live_count() const;
  const std::string& path() const { return path_; }
  // Removes the file when nothing in it is live (else keeps it for the next start) and
  // releases the lock. Idempotent.
  void Close();

 private:
  OutcomeJournal(int fd, std::string path, std::string scope)
      : fd_(fd), path_(std::move(path)), scope_(std::move(scope)) {}
  // Takes over the locked orphan `fd`; null (and `fd` closed or the file removed) when it
  // cannot be read or holds nothing live.
  static std::unique_ptr<OutcomeJournal> Adopt(int fd, const std::string& path,
                                               const std::string& scope);
  Status WriteLine(const std::string& json);   // REQUIRES: mu_ held
  Status WriteText(const std::string& lines);  // whole lines; REQUIRES: mu_ held
  Status Rewrite();                            // REQUIRES: mu_ held, !syncing_
  // Syncs every write made up to the `mine`-th; false when that sync failed.
  bool SyncLocked(std::unique_lock<std::mutex>& lock, std::uint64_t mine);

  mutable std::mutex mu_;
  std::condition_variable sync_cv_;
  std::uint64_t written_ = 0;  // writes made by Append
  std::uint64_t synced_ = 0;   // of those, the first synced_ are on disk
  std::uint64_t failed_ = 0;   // the first failed_ may not be (a sync failed)
  bool syncing_ = false;
  std::string sync_error_;
  int fd_ = -1;
  off_t size_ = 0;  // bytes in the file
  const std::string path_;
  const std::string scope_;
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, JournalRecord> live_;  // by seq
};

}  // namespace evt
