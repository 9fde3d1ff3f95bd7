import { LUA_NOW, LuaScript } from '@stayline/coordination';

/**
 * The Redis registry's data model, changed only by these scripts (each atomic):
 *   <prefix>:<service>:instances   hash  id -> instance JSON
 *   <prefix>:<service>:leases      zset  id -> lease deadline (Redis server ms)
 *   <prefix>:<service>:down:<id>   string, a tombstone after an agent reported a datastore down
 *   <prefix>:<service>:events      pub/sub channel; every message carries what changed
 */

/**
 * Registers or renews. The deadline only moves forward (`ZADD GT`), so several
 * agents renewing one datastore keep it alive while any of them lives. Publishes
 * `added` (new, or back after its lease ran out) or `updated` (record changed).
 * KEYS instances, leases, tombstone; ARGV id, json, ttlMs, channel, clearTombstone.
 * Returns 1 published, 0 renewed only, -1 refused (tombstoned).
 */
export const UPSERT = new LuaScript(
  'registry.upsert',
  `${LUA_NOW}
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[3])
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  return -1
end
local old = redis.call('ZSCORE', KEYS[2], ARGV[1])
local live = old and tonumber(old) >= now
redis.call('ZADD', KEYS[2], 'GT', now + tonumber(ARGV[3]), ARGV[1])
local before = redis.call('HGET', KEYS[1], ARGV[1])
if live and before == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local kind = 'added'
if live and before then kind = 'updated' end
redis.call('PUBLISH', ARGV[4], '{"type":"' .. kind .. '","ttlMs":' .. ARGV[3] .. ',"instance":' .. ARGV[2] .. '}')
return 1`,
);

/**
 * Removes an entry now and publishes `removed` with the reason; with a
 * tombstone TTL, renewals are refused until an explicit registration.
 * KEYS instances, leases, tombstone; ARGV id, channel, reason, tombstoneTtlMs.
 */
export const REMOVE = new LuaScript(
  'registry.remove',
  `local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
if removed == 1 then
  redis.call('PUBLISH', ARGV[2], '{"type":"removed","id":"' .. ARGV[1] .. '","reason":"' .. ARGV[3] .. '"}')
end
return removed`,
);

/**
 * The sweep any live member runs: removes entries whose lease ran out and
 * publishes `removed`/`expired` for each (ARGV[3] = '1'). With ARGV[2] = '1'
 * also returns the records (a full read): only live ones, or with ARGV[4] = '1'
 * the expired ones too (the grace after the caller was cut off from Redis, when
 * nobody could renew and expiry proves nothing).
 * With ARGV[5] = '1' (and neither list nor removal) it returns the ids of the
 * lapsed entries instead of records: what a reader drops from its view, without
 * reading every record each time (a full read per sweep made a reader's sweeps
 * cost O(N) every second).
 * KEYS instances, leases; ARGV channel, withList, removeExpired, includeExpired, lapsedIds.
 * Returns { ms until the next lease deadline still ahead (-1: none), removed count, records... }
 * or, with lapsedIds, { ms until the next deadline, lapsed count, ids... }.
 * With ARGV[3] = '0' it only reads, and runs as EVALSHA_RO (a reader's ACL user may not write).
 */
export const SWEEP = new LuaScript(
  'registry.sweep',
  `${LUA_NOW}
local expired = {}
if ARGV[3] == '1' then expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now) end
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('PUBLISH', ARGV[1], '{"type":"removed","id":"' .. id .. '","reason":"expired"}')
end
local out = { -1, #expired }
local first = redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if first[2] then out[1] = math.max(0, math.floor(tonumber(first[2]) - now)) end
if ARGV[5] == '1' and ARGV[2] ~= '1' and ARGV[3] ~= '1' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)) do
    table.insert(out, id)
  end
  out[2] = #out - 2
elseif ARGV[2] == '1' then
  local from = now
  if ARGV[4] == '1' then from = '-inf' end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf')) do
    local json = redis.call('HGET', KEYS[1], id)
    if json then table.insert(out, json) end
  end
end
return out`,
);
