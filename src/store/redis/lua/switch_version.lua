-- switch_version: make a fully written preload version the one readers use.
-- The single step that turns a preload visible; fenced by the preload lock so a
-- run that lost its lock (stalled, taken over) can never switch, and by the
-- lesson's change counter so a version compiled before a change landed never
-- hides that change.
-- KEYS[1] lesson head hash
-- KEYS[2] lesson preload lock
-- ARGV[1] new version
-- ARGV[2] lock token held by this run
-- ARGV[3] run id
-- ARGV[4] now (ms)
-- ARGV[5] ttl (seconds) for the head hash
-- ARGV[6] shard channel of the lesson
-- ARGV[7] optional changeSeq seen when the run began ('' skips the test)
-- Returns {code, previous version} with code (src/store/redis/replyCodes.ts REPLY_CODES.switchVersion):
local OK = 0
local E_LOCK_LOST = 1           -- the lock is not (or no longer) this run's
local E_NOT_NEWER = 2           -- the version is not newer than the readable one
local E_SOURCE_CHANGED = 3      -- a change reached the lesson since the run began
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return {E_LOCK_LOST, 0}
end
local prev = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0
if tonumber(ARGV[1]) <= prev then
  return {E_NOT_NEWER, prev}
end
if ARGV[7] and ARGV[7] ~= '' then
  local seq = redis.call('HGET', KEYS[1], 'changeSeq') or '0'
  if seq ~= ARGV[7] then
    return {E_SOURCE_CHANGED, prev}
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'status', 'ready', 'runId', ARGV[3], 'updatedAt', ARGV[4])
redis.call('HDEL', KEYS[1], 'pendingVersion')
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SPUBLISH', ARGV[6], 'version:' .. ARGV[1])
return {OK, prev}
