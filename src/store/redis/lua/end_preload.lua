-- end_preload: release the preload lock (only if still ours); after a failure,
-- put the head back to "ready" when an older version is still readable, else "failed".
-- KEYS[1] lesson head hash
-- KEYS[2] lesson preload lock
-- ARGV[1] lock token
-- ARGV[2] 1 if the run failed, 0 if it succeeded
-- ARGV[3] now (ms)
-- Returns 1 if the lock was ours and released, 0 otherwise
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '1' then
  if redis.call('HEXISTS', KEYS[1], 'version') == 1 then
    redis.call('HSET', KEYS[1], 'status', 'ready', 'updatedAt', ARGV[3])
  else
    redis.call('HSET', KEYS[1], 'status', 'failed', 'updatedAt', ARGV[3])
  end
end
redis.call('HDEL', KEYS[1], 'pendingVersion')
redis.call('DEL', KEYS[2])
return 1
