-- check_slot: a counting semaphore of running checks across every worker.
-- Each holder has a lease (zset score = expiry), so a worker killed mid-check
-- frees its slot when the lease runs out instead of leaking it.
-- KEYS[1] zset holder -> lease expiry (ms)
-- ARGV[1] 'acquire' | 'release'
-- ARGV[2] holder id
-- ARGV[3] now (ms)
-- ARGV[4] lease (ms)
-- ARGV[5] most holders at once
-- Returns {granted 1|0, holders now}
local key = KEYS[1]
if ARGV[1] == 'release' then
  redis.call('ZREM', key, ARGV[2])
  return {1, redis.call('ZCARD', key)}
end
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local n = redis.call('ZCARD', key)
if redis.call('ZSCORE', key, ARGV[2]) or n < tonumber(ARGV[5]) then
  redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[4]))
  return {1, redis.call('ZCARD', key)}
end
return {0, n}
