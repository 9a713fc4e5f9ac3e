#include "worker/outcome_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using evt::JournalOutcome;
using evt::JournalRecord;
using evt::OutcomeJournal;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/evt-journal-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

const std::string kScope = "redis tcp 127.0.0.1:6379 db 0 ns evt queue q group workers";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

off_t Size(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_size;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void AppendRaw(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
}

std::unique_ptr<OutcomeJournal> Create(const std::string& dir, const std::string& scope = kScope) {
  evt::Result<std::unique_ptr<OutcomeJournal>> j = OutcomeJournal::Create(dir, scope);
  REQUIRE(j.ok());
  return std::move(*j);
}

std::vector<std::unique_ptr<OutcomeJournal>> Adopt(const std::string& dir,
                                                   const std::string& scope = kScope) {
  evt::Result<std::vector<std::unique_ptr<OutcomeJournal>>> r =
      OutcomeJournal::AdoptOrphans(dir, scope);
  REQUIRE(r.ok());
  return std::move(*r);
}

JournalRecord Done(const std::string& delivery_id) {
  JournalRecord r;
  r.outcome = JournalOutcome::kDone;
  r.end.delivery_id = delivery_id;
  r.end.event_id = "ev-" + delivery_id;
  r.end.event_type = "t.work";
  r.end.idempotency_key = "key-" + delivery_id;
  r.end.lease_owner = "host:1 " + delivery_id;
  r.end.attempt = 1;
  r.end.ran = true;
  r.end.duration = evt::Millis(12);
  r.end.occurred_at = 1709012345678;
  return r;
}

TEST_CASE("outcome journal: an appended outcome is in the file before Append returns") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord r = Done("1-0");
  REQUIRE(j->Append(&r).ok());
  CHECK(r.seq == 1);
  CHECK(j->live_count() == 1);
  std::string text = Read(j->path());
  CHECK(text.find("\"delivery_id\":\"1-0\"") != std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(j->path().rfind(dir.path + "/" + evt::JournalScopeName(kScope) + "-", 0) == 0);
  CHECK(j->path().size() > 8);
  CHECK(j->path().substr(j->path().size() - 8) == ".journal");
}

TEST_CASE("outcome journal: retiring everything empties a large file, a clean close removes it") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord a = Done("1-0"), b = Done("2-0");
  REQUIRE(j->Append(&a).ok());
  REQUIRE(j->Append(&b).ok());
  REQUIRE(j->Retire(a.seq).ok());
  CHECK(j->live_count() == 1);
  CHECK(Size(j->path()) > 0);
  REQUIRE(j->Retire(b.seq).ok());
  CHECK(j->live_count() == 0);
  // A small file with nothing live keeps its retire lines (no ftruncate per outcome); its
  // adopter finds nothing to replay and removes it.
  CHECK(Size(j->path()) > 0);
  CHECK(Size(j->path()) < 4096);
  REQUIRE(j->Retire(b.seq).ok());  // twice: harmless
  // Past 256 KiB, the moment nothing is live the file is cut to nothing.
  std::uint64_t last_seq = 0;
  for (int i = 0; i < 100; ++i) {
    JournalRecord r = Done(std::to_string(i + 3) + "-0");
    r.end.error = std::string(4000, 'x');
    REQUIRE(j->Append(&r).ok());
    REQUIRE(j->Retire(r.seq).ok());
    last_seq = r.seq;
  }
  CHECK(last_seq == 102);
  CHECK(j->live_count() == 0);
  CHECK(Size(j->path()) < (256 << 10) + 8192);
  JournalRecord c = Done("3-0");
  REQUIRE(j->Append(&c).ok());
  CHECK(c.seq == 103);
  REQUIRE(j->Retire(c.seq).ok());
  const std::string path = j->path();
  j->Close();
  CHECK_FALSE(Exists(path));
}

TEST_CASE("outcome journal: a closed journal with nothing live is removed by its adopter") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord a = Done("1-0");
  REQUIRE(j->Append(&a).ok());
  REQUIRE(j->Retire(a.seq).ok());
  const std::string path = j->path();
  REQUIRE(Size(path) > 0);
  // As if the process died here: the file stays, unlocked, with only retired records.
  REQUIRE(::link(path.c_str(), (path + ".kept").c_str()) == 0);
  j.reset();
  REQUIRE(::rename((path + ".kept").c_str(), path.c_str()) == 0);
  auto adopted = Adopt(dir.path);
  CHECK(adopted.empty());
  CHECK_FALSE(Exists(path));
}

TEST_CASE("outcome journal: a closed journal with live outcomes is adopted with every field") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord done = Done("1-0");
  JournalRecord retry = Done("2-0");
  retry.outcome = JournalOutcome::kRetry;
  retry.end.category = evt::Category::kDependency;
  retry.end.error = "upstream said \"no\"\nsecond line";
  retry.next_raw = R"({"event_id":"ev-2-0","retry_count":1})";
  retry.due = 1709012399999;
  JournalRecord dead = Done("3-0");
  dead.outcome = JournalOutcome::kDead;
  dead.end.category = evt::Category::kData;
  dead.end.error = "bad record";
  dead.reason = evt::DeadReason::kRetriesExhausted;
  dead.raw = "not even json \xc3\xa9";
  JournalRecord dup = Done("4-0");
  dup.outcome = JournalOutcome::kDuplicate;
  dup.end.ran = false;
  dup.end.lease_owner.clear();
  for (JournalRecord* r : {&done, &retry, &dead, &dup}) REQUIRE(j->Append(r).ok());
  REQUIRE(j->Retire(done.seq).ok());
  const std::string path = j->path();
  j.reset();  // the process is gone: the file stays, unlocked
  REQUIRE(Exists(path));

  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0]->path() == path);
  std::vector<JournalRecord> live = adopted[0]->Live();
  REQUIRE(live.size() == 3);
  CHECK(live[0].outcome == JournalOutcome::kRetry);
  CHECK(live[0].seq == retry.seq);
  CHECK(live[0].end.delivery_id == "2-0");
  CHECK(live[0].end.event_id == "ev-2-0");
  CHECK(live[0].end.event_type == "t.work");
  CHECK(live[0].end.idempotency_key == "key-2-0");
  CHECK(live[0].end.lease_owner == "host:1 2-0");
  CHECK(live[0].end.attempt == 1);
  CHECK(live[0].end.ran);
  CHECK(live[0].end.duration == evt::Millis(12));
  CHECK(live[0].end.category == evt::Category::kDependency);
  CHECK(live[0].end.error == retry.end.error);
  CHECK(live[0].end.occurred_at == 1709012345678);
  CHECK(live[0].next_raw == retry.next_raw);
  CHECK(live[0].due == 1709012399999);
  CHECK(live[1].outcome == JournalOutcome::kDead);
  CHECK(live[1].reason == evt::DeadReason::kRetriesExhausted);
  CHECK(live[1].raw == dead.raw);
  CHECK(live[1].end.category == evt::Category::kData);
  CHECK(live[2].outcome == JournalOutcome::kDuplicate);
  CHECK_FALSE(live[2].end.ran);
  CHECK(live[2].end.lease_owner.empty());

  // Committed one by one; the last retire leaves nothing, and closing removes the file.
  for (const JournalRecord& r : live) REQUIRE(adopted[0]->Retire(r.seq).ok());
  adopted[0]->Close();
  CHECK_FALSE(Exists(path));
  CHECK(Adopt(dir.path).empty());
}

TEST_CASE("outcome journal: a torn last line and a damaged line are ignored") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord a = Done("1-0"), b = Done("2-0");
  REQUIRE(j->Append(&a).ok());
  REQUIRE(j->Append(&b).ok());
  const std::string path = j->path();
  j.reset();
  // A line whose checksum does not match its text, then a write cut short by a crash.
  AppendRaw(path, "00000000 {\"op\":\"outcome\",\"seq\":7}\n");
  std::string whole = Read(path);
  std::string first_line = whole.substr(0, whole.find('\n') + 1);
  AppendRaw(path, first_line.substr(0, first_line.size() / 2));

  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  std::vector<JournalRecord> live = adopted[0]->Live();
  REQUIRE(live.size() == 2);
  CHECK(live[0].end.delivery_id == "1-0");
  CHECK(live[1].end.delivery_id == "2-0");
  // The torn tail is cut off, so what the adopter appends stays readable.
  REQUIRE(adopted[0]->Retire(live[0].seq).ok());
  adopted.clear();
  auto again = Adopt(dir.path);
  REQUIRE(again.size() == 1);
  REQUIRE(again[0]->live_count() == 1);
  CHECK(again[0]->Live()[0].end.delivery_id == "2-0");
}

TEST_CASE("outcome journal: the file of a live journal is not adopted, once it is gone, it is") {
  TempDir dir;
  auto live = Create(dir.path);
  JournalRecord a = Done("1-0");
  REQUIRE(live->Append(&a).ok());
  CHECK(Adopt(dir.path).empty());  // locked by its owner
  live.reset();
  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0]->live_count() == 1);
  CHECK(Adopt(dir.path).empty());  // now locked by its adopter
}

TEST_CASE("outcome journal: the journal of a dead process is adopted, a living one's is not") {
  TempDir dir;
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: journals one outcome, says so, waits, and dies without closing anything.
    evt::Result<std::unique_ptr<OutcomeJournal>> j = OutcomeJournal::Create(dir.path, kScope);
    JournalRecord r = Done("9-0");
    bool ok = j.ok() && (*j)->Append(&r).ok();
    char c = ok ? 'y' : 'n';
    [[maybe_unused]] ssize_t n = ::write(ready[1], &c, 1);
    n = ::read(go[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  REQUIRE(c == 'y');
  CHECK(Adopt(dir.path).empty());  // its process lives
  REQUIRE(::write(go[1], &c, 1) == 1);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  REQUIRE(adopted[0]->live_count() == 1);
  CHECK(adopted[0]->Live()[0].end.delivery_id == "9-0");
}

TEST_CASE("outcome journal: another scope's journals are left alone, empty orphans removed") {
  TempDir dir;
  const std::string other = "redis tcp 127.0.0.1:6380 db 0 ns evt queue q group workers";
  auto j = Create(dir.path, other);
  JournalRecord a = Done("1-0");
  REQUIRE(j->Append(&a).ok());
  const std::string kept = j->path();
  j.reset();
  // What a killed worker of the other scope leaves when nothing waited in its journal.
  const std::string litter = dir.path + "/" + evt::JournalScopeName(other) + "-1-00000000.journal";
  AppendRaw(litter, "");
  REQUIRE(Exists(litter));
  auto live_empty = Create(dir.path, other);

  CHECK(Adopt(dir.path).empty());
  CHECK(Exists(kept));
  CHECK_FALSE(Exists(litter));
  CHECK(Exists(live_empty->path()));  // locked by its living owner
  CHECK(Adopt(dir.path, other).size() == 1);
}

TEST_CASE("outcome journal: scope names are stable, short and distinct") {
  std::string a = evt::JournalScopeName(kScope);
  CHECK(a.size() == 16);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a == evt::JournalScopeName(kScope));
  CHECK(a != evt::JournalScopeName(kScope + "x"));
}

TEST_CASE("outcome journal: the default state folder") {
  CHECK(*evt::DefaultStateDir(true, "/x", "/home/u") == "/var/lib/evt");
  CHECK(*evt::DefaultStateDir(false, "/x/state", "/home/u") == "/x/state/evt");
  CHECK(*evt::DefaultStateDir(false, nullptr, "/home/u") == "/home/u/.local/state/evt");
  CHECK(*evt::DefaultStateDir(false, "", "/home/u") == "/home/u/.local/state/evt");
  CHECK(*evt::DefaultStateDir(false, "relative", "/home/u") == "/home/u/.local/state/evt");
  evt::Result<std::string> none = evt::DefaultStateDir(false, nullptr, nullptr);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().kind() == evt::Status::Kind::kConfig);
  CHECK(none.status().message().find("--state-dir") != std::string::npos);
}

TEST_CASE("outcome journal: the state folder is created with mode 0700, or the error names it") {
  TempDir dir;
  const std::string nested = dir.path + "/a/b/evt";
  REQUIRE(evt::PrepareStateDir(nested).ok());
  struct stat st {};
  REQUIRE(::stat(nested.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(evt::PrepareStateDir(nested).ok());  // again: fine

  AppendRaw(dir.path + "/file", "x");
  evt::Status s = evt::PrepareStateDir(dir.path + "/file/sub");
  REQUIRE_FALSE(s.ok());
  CHECK(s.kind() == evt::Status::Kind::kConfig);
  CHECK(s.message().find(dir.path + "/file/sub") != std::string::npos);
  CHECK(s.message().find('\n') == std::string::npos);
}

}  // namespace

namespace {

TEST_CASE("outcome journal: threads appending at once share syncs and lose nothing") {
  TempDir dir;
  auto j = Create(dir.path);
  constexpr int kThreads = 4, kEach = 100;
  std::vector<int> failures(kThreads, 0);  // written by one thread each, read after join
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        JournalRecord r = Done(std::to_string(t) + "-" + std::to_string(i));
        if (!j->Append(&r).ok()) ++failures[t];
        if (i % 2 == 0 && !j->Retire(r.seq).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int f : failures) CHECK(f == 0);
  CHECK(j->live_count() == kThreads * kEach / 2);
  j.reset();
  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0]->live_count() == kThreads * kEach / 2);
}

}  // namespace

namespace {

TEST_CASE("outcome journal: a journal that never empties is rewritten and stays small") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord stuck = Done("0-1");
  stuck.end.error = std::string(10000, 'e');
  REQUIRE(j->Append(&stuck).ok());  // never committed
  for (int i = 0; i < 300; ++i) {
    JournalRecord r = Done(std::to_string(i + 1) + "-0");
    r.end.error = std::string(10000, 'x');
    REQUIRE(j->Append(&r).ok());
    REQUIRE(j->Retire(r.seq).ok());
  }
  CHECK(Size(j->path()) < (1 << 20) + 40000);  // 300 such records are 3 MB
  JournalRecord last = Done("9-9");
  REQUIRE(j->Append(&last).ok());
  j.reset();
  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  std::vector<JournalRecord> live = adopted[0]->Live();
  REQUIRE(live.size() == 2);
  CHECK(live[0].end.delivery_id == "0-1");
  CHECK(live[0].end.error == stuck.end.error);
  CHECK(live[1].end.delivery_id == "9-9");
  CHECK(live[1].seq > live[0].seq);
}

}  // namespace

TEST_CASE("outcome journal: a batch of outcomes is appended in one go, each with its seq") {
  TempDir dir;
  auto j = Create(dir.path);
  JournalRecord first = Done("0-1");
  REQUIRE(j->Append(&first).ok());
  JournalRecord a = Done("1-0"), b = Done("2-0");
  REQUIRE(j->Append(std::vector<JournalRecord*>{&a, &b}).ok());
  CHECK(a.seq == 2);
  CHECK(b.seq == 3);
  std::string text = Read(j->path());
  CHECK(text.find("\"delivery_id\":\"1-0\"") != std::string::npos);
  CHECK(text.find("\"delivery_id\":\"2-0\"") != std::string::npos);
  CHECK(j->live_count() == 3);
  REQUIRE(j->Retire(std::vector<std::uint64_t>{a.seq, b.seq, 99}).ok());
  CHECK(j->live_count() == 1);
  CHECK(j->Live().at(0).end.delivery_id == "0-1");
}

TEST_CASE("outcome journal: a batch of a stopped process is adopted whole") {
  TempDir dir;
  {
    auto j = Create(dir.path);
    JournalRecord a = Done("7-0"), b = Done("8-0");
    REQUIRE(j->Append(std::vector<JournalRecord*>{&a, &b}).ok());
    REQUIRE(j->Retire(a.seq).ok());
    j->Close();  // one live: kept for the next start
  }
  auto adopted = Adopt(dir.path);
  REQUIRE(adopted.size() == 1);
  std::vector<JournalRecord> live = adopted[0]->Live();
  REQUIRE(live.size() == 1);
  CHECK(live[0].end.delivery_id == "8-0");
}
