// A full disk for the SQLite backend inside one test process: SqliteDiskLimit puts every
// SQLite connection of the process (open ones and the ones opened later, by any component)
// under PRAGMA max_page_count, so that a write that needs one more page fails with
// SQLITE_FULL as it would on a full file system, and lifts it again ("space returns").
//
// It hooks connections with sqlite3_auto_extension and forgets a closed one through the
// destructor of a function it registers on it. Use it from the test's own thread only,
// while no other thread runs a statement.
#pragma once

#include <sqlite3.h>

#include <mutex>
#include <set>
#include <string>

namespace evt::testing {

class SqliteDiskLimit {
 public:
  SqliteDiskLimit() {
    Limit() = kNoLimit;
    sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(&SqliteDiskLimit::OnOpen));
  }
  ~SqliteDiskLimit() {
    Lift();
    sqlite3_cancel_auto_extension(reinterpret_cast<void (*)(void)>(&SqliteDiskLimit::OnOpen));
  }
  SqliteDiskLimit(const SqliteDiskLimit&) = delete;
  SqliteDiskLimit& operator=(const SqliteDiskLimit&) = delete;

  // The disk is full from now on: no file grows by another page (SQLite keeps a limit below
  // a file's size at its size).
  void Fill() { Apply(1); }
  // Space returns.
  void Lift() { Apply(kNoLimit); }

 private:
  static constexpr long long kNoLimit = 4294967294LL;

  static long long& Limit() {
    static long long limit = kNoLimit;
    return limit;
  }
  static std::set<sqlite3*>& Live() {
    static std::set<sqlite3*> live;
    return live;
  }
  static std::mutex& Mu() {
    static std::mutex mu;
    return mu;
  }

  static void Set(sqlite3* db, long long pages) {
    const std::string sql = "PRAGMA max_page_count=" + std::to_string(pages);
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }

  static void Apply(long long pages) {
    std::lock_guard<std::mutex> lock(Mu());
    Limit() = pages;
    for (sqlite3* db : Live()) Set(db, pages);
  }

  static void Noop(sqlite3_context*, int, sqlite3_value**) {}
  static void Forget(void* db) {
    std::lock_guard<std::mutex> lock(Mu());
    Live().erase(static_cast<sqlite3*>(db));
  }

  static int OnOpen(sqlite3* db, const char** /*error*/, const sqlite3_api_routines* /*api*/) {
    {
      std::lock_guard<std::mutex> lock(Mu());
      Live().insert(db);
      if (Limit() != kNoLimit) Set(db, Limit());
    }
    // Its destructor runs when the connection closes (or at once if it cannot be made).
    sqlite3_create_function_v2(db, "evt_test_disk_limit", 0, SQLITE_UTF8, db, &Noop, nullptr,
                               nullptr, &Forget);
    return SQLITE_OK;
  }
};

}  // namespace evt::testing
