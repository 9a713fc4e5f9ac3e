// PRIVATE: the Lua scripts of queue_redis.cc. Each touches only keys passed in KEYS, all
// of one queue (one hash tag), so each runs in one Redis Cluster slot.
#pragma once

namespace evt::redis_scripts {

// Every script that writes starts with a `#!lua` shebang. Declaring flags (even none)
// takes a script out of Redis's compatibility mode: when memory is full (maxmemory under a
// noeviction policy) Redis refuses the whole script with -OOM before it runs, instead of
// failing it at its first write, and the caller sees Unavailable. Scripts that only free
// memory say `allow-oom`. A script does not roll back when a command in it fails, so each
// checks what could fail (key types, counters) before its first write.

// The idempotency lease, and with it (StartAttempt) the `running` status.
// TakeLease: KEYS[1] idem key. ARGV[1] owner, ARGV[2] lease ttl ms.
// StartAttempt adds KEYS[2] ev:<id>, KEYS[3] fin:<entry id>, KEYS[4] run:<entry id>,
// KEYS[5] stream; ARGV[3] group, ARGV[4] entry id, ARGV[5] max starts (0: no limit),
// ARGV[6] ttl ms of the start count, ARGV[7..] field, value pairs for the status hash.
// Returns {state, pttl, starts}: 0 acquired (starts: with this one), 1 already done,
// 2 busy (pttl = what is left of the other lease), 3 this delivery was committed already
// (now acknowledged), 4 poison (started `max starts` times; the lease is not taken),
// 5 busy, and its holder runs this very entry (its owner ends with " <entry id>").
inline constexpr const char* kTakeLease = R"lua(#!lua
local attempt = #KEYS == 5
local function wrong(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a ' .. want .. '; nothing was written'
  end
end
local bad = wrong(KEYS[1], 'string')
if attempt then
  bad = bad or wrong(KEYS[2], 'hash') or wrong(KEYS[4], 'string') or wrong(KEYS[5], 'stream')
end
if bad then return redis.error_reply(bad) end
if attempt and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('XACK', KEYS[5], ARGV[3], ARGV[4])
  return {3, 0, 0}
end
local v = redis.call('GET', KEYS[1])
if v == 'done' then return {1, 0, 0} end
local mine = 'running ' .. ARGV[1]
if v and v ~= mine then
  -- Owners are "<consumer> <entry id>": is the holder running this very entry?
  local same = attempt and string.sub(v, -(#ARGV[4] + 1)) == ' ' .. ARGV[4]
  return {same and 5 or 2, redis.call('PTTL', KEYS[1]), 0}
end
local starts = 0
if attempt then
  local n = redis.call('GET', KEYS[4]) or '0'
  if not string.match(n, '^%d+$') then
    return redis.error_reply('WRONGTYPE ' .. KEYS[4] .. ' is not a count; nothing was written')
  end
  starts = tonumber(n)
  local max = tonumber(ARGV[5])
  if max > 0 and starts >= max then return {4, 0, starts} end
end
redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
if attempt then
  starts = redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
  if #ARGV > 6 then redis.call('HSET', KEYS[2], unpack(ARGV, 7)) end
end
return {0, 0, starts}
)lua";

// StartAttempt for a batch of deliveries, in one run: what kTakeLease does for each, in
// order (a later item sees the leases of the earlier ones), after checking the keys of
// ALL items first: a key of the wrong type (or a start count that is not a number) is an
// error reply with nothing written, and the caller asks item by item instead. The checks
// read each item's lease and start count once; an item whose key an earlier item of the
// batch took sees that lease. The entries
// whose outcome was already committed are acknowledged with one XACK at the end.
// KEYS: 1 stream, then per item 4: idem:<key>, ev:<id>, fin:<entry id>, run:<entry id>.
// ARGV: 1 group, 2 lease ttl ms, 3 max starts (0: no limit), 4 ttl ms of the start count,
//       5 consumer, 6 started_at, then per item 5: owner, entry id, event_type,
//       idempotency key, attempt.
// Returns one {state, pttl, starts} per item, as kTakeLease.
inline constexpr const char* kStartAll = R"lua(#!lua
local n = (#KEYS - 1) / 4
local function wrong(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a ' .. want
  end
end
-- The checks read what the run needs: a GET of a key of the wrong type fails the script
-- here, before anything is written, as a WRONGTYPE check would.
local bad = wrong(KEYS[1], 'stream')
local held, counts = {}, {}
for i = 0, n - 1 do
  local k = 2 + 4 * i
  held[i] = redis.call('GET', KEYS[k])
  counts[i] = redis.call('GET', KEYS[k + 3])
  bad = bad or wrong(KEYS[k + 1], 'hash')
  if not bad and counts[i] and not string.match(counts[i], '^%d+$') then
    bad = 'WRONGTYPE ' .. KEYS[k + 3] .. ' is not a count'
  end
  if bad then return redis.error_reply(bad .. '; nothing was written') end
end
local max = tonumber(ARGV[3])
local out, acks, taken = {}, {}, {}
for i = 0, n - 1 do
  local k, a = 2 + 4 * i, 7 + 5 * i
  local owner, id = ARGV[a], ARGV[a + 1]
  if redis.call('EXISTS', KEYS[k + 2]) == 1 then
    acks[#acks + 1] = id
    out[#out + 1] = {3, 0, 0}
  else
    -- An earlier item of the batch with the same key may have taken its lease.
    local v = taken[KEYS[k]] or held[i]
    local mine = 'running ' .. owner
    if v == 'done' then
      out[#out + 1] = {1, 0, 0}
    elseif v and v ~= mine then
      -- Owners are "<consumer> <entry id>": is the holder running this very entry?
      local same = string.sub(v, -(#id + 1)) == ' ' .. id
      out[#out + 1] = {same and 5 or 2, redis.call('PTTL', KEYS[k]), 0}
    else
      local starts = tonumber(counts[i] or '0')
      if max > 0 and starts >= max then
        out[#out + 1] = {4, 0, starts}
      else
        redis.call('SET', KEYS[k], mine, 'PX', ARGV[2])
        taken[KEYS[k]] = mine
        starts = redis.call('INCR', KEYS[k + 3])
        redis.call('PEXPIRE', KEYS[k + 3], ARGV[4])
        redis.call('HSET', KEYS[k + 1], 'status', 'running', 'event_type', ARGV[a + 2],
          'idempotency_key', ARGV[a + 3], 'attempts', ARGV[a + 4], 'consumer', ARGV[5],
          'stream_id', id, 'started_at', ARGV[6])
        out[#out + 1] = {0, 0, starts}
      end
    end
  end
end
if #acks > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(acks)) end
return out
)lua";

// Releases a lease if the owner still holds it. Only frees memory: runs under OOM too.
// KEYS[1] idem key, KEYS[2] (optional) run:<entry id>: the handler of this attempt never
// started, so its start is taken back (the count is lowered, never below 0).
// ARGV[1] owner.
inline constexpr const char* kReleaseLease = R"lua(#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) ~= 'running ' .. ARGV[1] then return 0 end
if KEYS[2] then
  local n = tonumber(redis.call('GET', KEYS[2]) or '')
  if n and n > 1 then
    redis.call('DECR', KEYS[2])
  elseif n then
    redis.call('DEL', KEYS[2])
  end
end
return redis.call('DEL', KEYS[1])
)lua";

// Ends an attempt, atomically: every write or none. First it checks the type of every key
// it will write (and that the metric counters are numbers): a wrong one is an error reply
// (WRONGTYPE ...) with nothing written and the entry still pending. Then, when the
// delivery's commit marker exists (a repeat after a lost reply, or a delivery handed out
// again by a re-created group), it only acknowledges the entry and returns 0. Otherwise it
// writes the outcome, the marker (and drops the start count), and acknowledges LAST,
// returning 1. The outcome is written even when XACK has nothing to acknowledge (the
// group was deleted or re-created). A deferral is no outcome and writes no marker: the
// consumer that holds the lease still records its own (a repeated deferral only moves
// the same member of the delayed set).
// KEYS: 1 stream, 2 ev:<id>, 3 idem:<key>, 4 m:<minute>, 5 delayed, 6 dlq,
//       7 fin:<entry id>, 8 run:<entry id>
// ARGV: 1 group, 2 entry id, 3 mode (done|retry|dead|duplicate|defer), 4 lease owner
//       ("" = no lease), 5 idempotency ttl ms, 6 metrics ttl s, 7 due ms, 8 raw event,
//       9 marker ttl ms, then three counted lists: n, n field/value pairs for HSET ev;
//       n, n field/amount pairs for HINCRBY m; n, n field/value pairs for XADD dlq.
inline constexpr const char* kFinish = R"lua(#!lua
local mode = ARGV[3]
local i = 10
local function list()
  local n = tonumber(ARGV[i])
  local out = {}
  for j = 1, 2 * n do out[j] = ARGV[i + j] end
  i = i + 1 + 2 * n
  return out
end
local hash = list()
local incr = list()
local dead = list()
local release = (mode == 'retry' or mode == 'dead') and ARGV[4] ~= ''
local function wrong(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a ' .. want
  end
end
local bad = wrong(KEYS[1], 'stream')
if not bad and #hash > 0 then bad = wrong(KEYS[2], 'hash') end
if not bad and #incr > 0 then bad = wrong(KEYS[4], 'hash') end
if not bad and release then bad = wrong(KEYS[3], 'string') end
if not bad and (mode == 'retry' or mode == 'defer') then bad = wrong(KEYS[5], 'zset') end
if not bad and mode == 'dead' then bad = wrong(KEYS[6], 'stream') end
if not bad and #incr > 0 then
  local fields = {}
  for j = 1, #incr, 2 do fields[#fields + 1] = incr[j] end
  local now = redis.call('HMGET', KEYS[4], unpack(fields))
  for j = 1, #fields do
    if now[j] and not string.match(now[j], '^%-?%d+$') then
      bad = 'WRONGTYPE ' .. KEYS[4] .. ' field ' .. fields[j] .. ' is not a number'
      break
    end
  end
end
if bad then return redis.error_reply(bad .. '; nothing was written') end
if redis.call('EXISTS', KEYS[7]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
if #hash > 0 then
  redis.call('HSET', KEYS[2], unpack(hash))
  if mode == 'done' or mode == 'dead' or mode == 'duplicate' then
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
end
if #incr > 0 then
  for j = 1, #incr, 2 do redis.call('HINCRBY', KEYS[4], incr[j], incr[j + 1]) end
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
if mode == 'done' then
  redis.call('SET', KEYS[3], 'done', 'PX', ARGV[5])
elseif mode == 'retry' or mode == 'defer' then
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[8])
elseif mode == 'dead' then
  redis.call('XADD', KEYS[6], '*', unpack(dead))
end
if release and redis.call('GET', KEYS[3]) == 'running ' .. ARGV[4] then
  redis.call('DEL', KEYS[3])
end
if mode ~= 'defer' then
  redis.call('SET', KEYS[7], mode, 'PX', ARGV[9])
  redis.call('DEL', KEYS[8])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua";

// The attempt-ending calls of a whole batch (FinishAll) in ONE run: for each item exactly
// the effects kFinish has for it, run after one another in batch order, with fewer
// commands. It first checks every key any item will write, as kFinish does for one (each
// distinct key once; the metric counters once per metrics hash, over the union of the
// fields); a wrong one is an error reply (WRONGTYPE ...) with NOTHING written, and the
// caller falls back to one kFinish run per item, so each gets its own answer. Then an item
// whose commit marker exists (before the run, or written by an earlier item of the batch)
// is only acknowledged; every other item gets kFinish's writes, except that the metric
// increments of all of them are summed into one HINCRBY per field and one EXPIRE per
// metrics hash (written first, as kFinish writes them before the marker), the start counts
// go in one DEL and the entries are acknowledged in one XACK, LAST. Returns one number per
// item, as kFinish: 1 written, 0 only acknowledged.
// KEYS: 1 stream, 2 delayed, 3 dlq, then five per item: ev:<id>, idem:<key>, m:<minute>,
//       fin:<entry id>, run:<entry id>
// ARGV: 1 group, 2 idempotency ttl ms, 3 metrics ttl s, 4 marker ttl ms, then per item:
//       entry id, mode, lease owner ("" = none), due ms, raw event, and kFinish's three
//       counted lists (status hash, metric increments, dead letter).
inline constexpr const char* kFinishAll = R"lua(#!lua
-- A counted list is kept as where its pairs start in ARGV and how many values it has.
local i, items = 5, {}
local function list()
  local n = 2 * tonumber(ARGV[i])
  i = i + 1 + n
  return i - n, n
end
while i <= #ARGV do
  local k = 3 + 5 * #items
  local it = {id = ARGV[i], mode = ARGV[i + 1], owner = ARGV[i + 2], due = ARGV[i + 3],
              raw = ARGV[i + 4], ev = KEYS[k + 1], idem = KEYS[k + 2], m = KEYS[k + 3],
              fin = KEYS[k + 4], run = KEYS[k + 5]}
  i = i + 5
  it.hash, it.nhash = list()
  it.incr, it.nincr = list()
  it.dead, it.ndead = list()
  it.release = (it.mode == 'retry' or it.mode == 'dead') and it.owner ~= ''
  items[#items + 1] = it
end
if #items == 0 or #KEYS ~= 3 + 5 * #items then
  return redis.error_reply('ERR finish all: ' .. #KEYS .. ' keys for ' .. #items .. ' items')
end
local types = {}
local function wrong(key, want)
  local t = types[key]
  if not t then
    t = redis.call('TYPE', key)['ok']
    types[key] = t
  end
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a ' .. want
  end
end
-- Metrics hashes in order of first use, each with its fields (union), their sums over the
-- items that write, and whether any item writes to it.
local mkeys, metrics = {}, {}
local function count(key, it, add)
  local m = metrics[key]
  if not m then
    m = {fields = {}, seen = {}, sum = {}, any = false}
    metrics[key] = m
    mkeys[#mkeys + 1] = key
  end
  for j = it.incr, it.incr + it.nincr - 1, 2 do
    local f = ARGV[j]
    if not m.seen[f] then
      m.seen[f] = true
      m.fields[#m.fields + 1] = f
    end
    if add then m.sum[f] = (m.sum[f] or 0) + tonumber(ARGV[j + 1]) end
  end
  m.any = m.any or add
end
local bad = wrong(KEYS[1], 'stream')
for _, it in ipairs(items) do
  if bad then break end
  local mode = it.mode
  if it.nhash > 0 then bad = wrong(it.ev, 'hash') end
  if not bad and it.nincr > 0 then
    bad = wrong(it.m, 'hash')
    count(it.m, it, false)
  end
  if not bad and it.release then bad = wrong(it.idem, 'string') end
  if not bad and (mode == 'retry' or mode == 'defer') then bad = wrong(KEYS[2], 'zset') end
  if not bad and mode == 'dead' then bad = wrong(KEYS[3], 'stream') end
end
for _, key in ipairs(mkeys) do
  if bad then break end
  local fields = metrics[key].fields
  local now = redis.call('HMGET', key, unpack(fields))
  for j = 1, #fields do
    if now[j] and not string.match(now[j], '^%-?%d+$') then
      bad = 'WRONGTYPE ' .. key .. ' field ' .. fields[j] .. ' is not a number'
      break
    end
  end
end
if bad then return redis.error_reply(bad .. '; nothing was written') end
-- Which items write: no marker yet, and no earlier item of the batch writes it.
local marked, out, ids = {}, {}, {}
for n, it in ipairs(items) do
  it.write = not marked[it.fin] and redis.call('EXISTS', it.fin) == 0
  if it.write and it.mode ~= 'defer' then marked[it.fin] = true end
  if it.write and it.nincr > 0 then count(it.m, it, true) end
  out[n] = it.write and 1 or 0
  ids[n] = it.id
end
for _, key in ipairs(mkeys) do
  local m = metrics[key]
  if m.any then
    for _, f in ipairs(m.fields) do
      if m.sum[f] then redis.call('HINCRBY', key, f, string.format('%d', m.sum[f])) end
    end
    redis.call('EXPIRE', key, ARGV[3])
  end
end
local runs = {}
for _, it in ipairs(items) do
  local mode = it.mode
  if it.write then
    if it.nhash > 0 then
      redis.call('HSET', it.ev, unpack(ARGV, it.hash, it.hash + it.nhash - 1))
      if mode == 'done' or mode == 'dead' or mode == 'duplicate' then
        redis.call('PEXPIRE', it.ev, ARGV[2])
      end
    end
    if mode == 'done' then
      redis.call('SET', it.idem, 'done', 'PX', ARGV[2])
    elseif mode == 'retry' or mode == 'defer' then
      redis.call('ZADD', KEYS[2], it.due, it.raw)
    elseif mode == 'dead' then
      redis.call('XADD', KEYS[3], '*', unpack(ARGV, it.dead, it.dead + it.ndead - 1))
    end
    if it.release and redis.call('GET', it.idem) == 'running ' .. it.owner then
      redis.call('DEL', it.idem)
    end
    if mode ~= 'defer' then
      redis.call('SET', it.fin, mode, 'PX', ARGV[4])
      runs[#runs + 1] = it.run
    end
  end
end
if #runs > 0 then redis.call('DEL', unpack(runs)) end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return out
)lua";

// Moves due events from the delayed set into the stream: XADD and ZREM in one script, so
// workers running it at once move each event exactly once. A wrong key type fails at the
// first XADD, before anything is written.
// KEYS[1] delayed, KEYS[2] stream. ARGV[1] now ms, ARGV[2] max. Returns how many moved.
inline constexpr const char* kMoveDue = R"lua(#!lua
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'event', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due
)lua";

// Trims the stream below the oldest entry some group still needs, and never above
// now - retention (Redis server time). Only frees memory: runs under OOM too.
// KEYS[1] stream. ARGV[1] retention ms. Returns the number of entries removed.
inline constexpr const char* kTrim = R"lua(#!lua flags=allow-oom
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('TIME')
local floor_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])
if floor_ms <= 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local bms, bseq = floor_ms, 0
local function lower(ms, seq)
  if ms < bms or (ms == bms and seq < bseq) then bms, bseq = ms, seq end
end
local function parse(id)
  local a, b = string.match(id, '^(%d+)%-(%d+)$')
  return tonumber(a), tonumber(b)
end
for _, g in ipairs(groups) do
  local f = {}
  for k = 1, #g, 2 do f[g[k]] = g[k + 1] end
  local ms, seq = parse(f['last-delivered-id'])
  lower(ms, seq + 1)
  if tonumber(f['pending']) > 0 then
    local p = redis.call('XPENDING', KEYS[1], f['name'])
    local pms, pseq = parse(p[2])
    lower(pms, pseq)
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', bms, bseq))
)lua";

// Extends a lease its owner still holds (the worker renews the leases it holds while the
// handler runs and while the outcome waits to be committed).
// KEYS[1] idem key. ARGV[1] owner, ARGV[2] lease ttl ms. Returns 1 if renewed, else 0.
inline constexpr const char* kRenewLease = R"lua(#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) == 'running ' .. ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua";

}  // namespace evt::redis_scripts
