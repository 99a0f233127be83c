-- begin_preload: take the lesson's preload lock and mark the head "preloading".
-- The readable version (if any) stays readable while the new one is written.
-- KEYS[1] lesson head hash
-- KEYS[2] lesson preload lock
-- KEYS[3] lesson version counter
-- ARGV[1] lock token
-- ARGV[2] lock ttl (ms)
-- ARGV[3] run id
-- ARGV[4] now (ms)
-- ARGV[5] ttl (seconds) for head and counter
-- Returns {code, new version}: 0 ok, 1 another preload holds the lock
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, 0}
end
local v = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[1], 'status', 'preloading', 'runId', ARGV[3], 'updatedAt', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {0, v}
