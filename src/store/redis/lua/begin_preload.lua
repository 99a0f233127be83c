-- begin_preload: take the lesson's preload lock and mark the head "preloading".
-- The readable version (if any) stays readable while the new one is written.
-- A later attempt of the same job (a worker died mid-run, BullMQ moved the job
-- on) may take the lock over: its token starts with the job's prefix. The old
-- attempt is fenced from then on (switch_version checks the token).
-- KEYS[1] lesson head hash
-- KEYS[2] lesson preload lock
-- KEYS[3] lesson version counter
-- ARGV[1] lock token
-- ARGV[2] lock ttl (ms)
-- ARGV[3] run id
-- ARGV[4] now (ms)
-- ARGV[5] ttl (seconds) for head and counter
-- ARGV[6] optional takeover prefix: a lock whose token starts with it is taken over ('' none)
-- ARGV[7] optional job key recorded on the head ('' none)
-- Returns {code, new version, changeSeq, taken-over pending version, taken-over run id}
-- with code (src/store/redis/replyCodes.ts REPLY_CODES.beginPreload):
local OK = 0
local E_LOCKED = 1              -- another preload holds the lock
local held = redis.call('GET', KEYS[2])
local prevPending, prevRun = 0, 0
if held then
  local pre = ARGV[6] or ''
  if pre == '' or string.sub(held, 1, #pre) ~= pre then
    return {E_LOCKED, 0, 0, 0, 0}
  end
  local h = redis.call('HMGET', KEYS[1], 'pendingVersion', 'runId')
  if h[1] then
    prevPending = tonumber(h[1]) or 0
    prevRun = tonumber(h[2] or '0') or 0
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local v = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[1], 'status', 'preloading', 'runId', ARGV[3], 'pendingVersion', v, 'updatedAt', ARGV[4])
if ARGV[7] and ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'job', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'job')
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local seq = tonumber(redis.call('HGET', KEYS[1], 'changeSeq') or '0') or 0
return {OK, v, seq, prevPending, prevRun}
