// PRIVATE: the text of an outcome journal file (outcome_journal.h): one record per line,
// "<crc32 as 8 hex digits> <JSON>\n"; records {"op":"outcome","seq":N,...} and
// {"op":"retire","seq":N}. Pure functions, no files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "evt/event.h"
#include "worker/outcome_journal.h"

namespace evt {

// `json` framed as one journal line: its checksum, a space, the text and a newline.
std::string JournalLine(const std::string& json);
// The outcome line of `record` for `scope` (compact JSON, not framed).
std::string JournalOutcomeJson(const JournalRecord& record, const std::string& scope);
// The retire line of record `seq` (compact JSON, not framed).
std::string JournalRetireJson(std::uint64_t seq);

// What the whole lines of a journal file say: the records of `scope` not retired, by seq,
// and the highest seq seen. Lines whose checksum does not match are ignored.
struct JournalContents {
  std::map<std::uint64_t, JournalRecord> live;
  std::uint64_t max_seq = 0;
};
JournalContents ParseJournal(std::string_view text, const std::string& scope);

}  // namespace evt
