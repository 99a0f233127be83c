-- revoke: refuse a lesson's tokens issued up to a moment, for one user or for
-- everyone, and announce it on the lesson channel in the same step.
-- KEYS[1] revocation hash of the lesson (field u<uid> or all -> epoch ms)
-- ARGV[1] field: u<uid> or all
-- ARGV[2] tokens issued at or before this epoch ms are refused
-- ARGV[3] keep the hash at least this many seconds (the longest token lifetime)
-- ARGV[4] shard channel of the lesson
-- Returns the field's time in force (a later revocation already held wins)
local t = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if t > cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  t = cur
end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
redis.call('SPUBLISH', ARGV[4], 'revoke:' .. ARGV[1] .. ':' .. string.format('%d', t))
return t
