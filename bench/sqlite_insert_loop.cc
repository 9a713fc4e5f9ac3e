// The limit for bulk emit into SQLite: the same rows evt-emit writes (one per NDJSON line
// of the input), inserted by one prepared INSERT in one transaction, with the pragmas evt
// uses (WAL, synchronous=NORMAL). bench/sqlite.sh compares evt-emit against it.
// Usage: sqlite_insert_loop DB_FILE NDJSON_FILE   (DB_FILE must hold evt's schema)
// Prints the rows per second.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: sqlite_insert_loop DB_FILE NDJSON_FILE\n");
    return 64;
  }
  std::vector<std::string> lines;
  std::ifstream in(argv[2]);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  sqlite3* db = nullptr;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) return 66;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  const auto start = std::chrono::steady_clock::now();
  sqlite3_stmt* st = nullptr;
  sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (sqlite3_prepare_v2(db, "INSERT INTO stream(qid, added_ms, event) VALUES(1, ?1, ?2)", -1, &st,
                         nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 70;
  }
  const long long now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  for (const std::string& line : lines) {
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, line.data(), static_cast<int>(line.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) return 70;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return 70;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sqlite3_close(db);
  std::printf("%.0f\n", static_cast<double>(lines.size()) / s);
  return 0;
}
