// PRIVATE: the Lua scripts of queue_redis.cc. Each touches only keys passed in KEYS, all
// of one queue (one hash tag), so each runs in one Redis Cluster slot.
#pragma once

namespace evt::redis_scripts {

// The idempotency lease, and with it (StartAttempt) the `running` status.
// KEYS[1] idem key, KEYS[2] ev:<id> (only with status fields). ARGV[1] owner, ARGV[2]
// lease ttl ms, ARGV[3..] field, value pairs for the status hash, written only when the
// lease is acquired. Returns {state, pttl}: 0 acquired, 1 already done, 2 busy (pttl =
// what is left of it).
inline constexpr const char* kTakeLease = R"lua(
local v = redis.call('GET', KEYS[1])
local mine = 'running ' .. ARGV[1]
if (not v) or v == mine then
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
  if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
  return {0, 0}
end
if v == 'done' then return {1, 0} end
return {2, redis.call('PTTL', KEYS[1])}
)lua";

// Releases a lease if the owner still holds it.
// KEYS[1] idem key. ARGV[1] owner.
inline constexpr const char* kReleaseLease = R"lua(
if redis.call('GET', KEYS[1]) == 'running ' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

// Ends an attempt, atomically. Does nothing (returns 0) when the entry is no longer
// pending, so a repeat after a lost reply is harmless; returns 1 otherwise.
// KEYS: 1 stream, 2 ev:<id>, 3 idem:<key>, 4 m:<minute>, 5 delayed, 6 dlq
// ARGV: 1 group, 2 entry id, 3 mode (done|retry|dead|duplicate|defer), 4 lease owner
//       ("" = no lease), 5 idempotency ttl ms, 6 metrics ttl s, 7 due ms, 8 raw event,
//       then three counted lists: n, n field/value pairs for HSET ev;
//       n, n field/amount pairs for HINCRBY m; n, n field/value pairs for XADD dlq.
inline constexpr const char* kFinish = R"lua(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local mode = ARGV[3]
local i = 9
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
if (mode == 'retry' or mode == 'dead') and ARGV[4] ~= '' then
  if redis.call('GET', KEYS[3]) == 'running ' .. ARGV[4] then redis.call('DEL', KEYS[3]) end
end
return 1
)lua";

// Moves due events from the delayed set into the stream: XADD and ZREM in one script, so
// workers running it at once move each event exactly once.
// KEYS[1] delayed, KEYS[2] stream. ARGV[1] now ms, ARGV[2] max. Returns how many moved.
inline constexpr const char* kMoveDue = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'event', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due
)lua";

// Trims the stream below the oldest entry some group still needs, and never above
// now - retention (Redis server time).
// KEYS[1] stream. ARGV[1] retention ms. Returns the number of entries removed.
inline constexpr const char* kTrim = R"lua(
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
inline constexpr const char* kRenewLease = R"lua(
if redis.call('GET', KEYS[1]) == 'running ' .. ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua";

}  // namespace evt::redis_scripts
