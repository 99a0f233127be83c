-- publish_signal: append a courseware signal to a room of the readable version
-- and tell every gateway, in one atomic step, so a gateway that hears the
-- notification always finds the signal already in the zset.
-- KEYS[1] lesson head hash
-- KEYS[2] room's signal sequence counter
-- KEYS[3] room's signal zset (score = seq, member = '<seq>:<at>:<by>:<payload>';
--         the seq inside keeps members unique when payloads repeat)
-- ARGV[1] room id
-- ARGV[2] payload (opaque text)
-- ARGV[3] publisher uid
-- ARGV[4] now (ms)
-- ARGV[5] signals retained per room (older ones are trimmed away)
-- ARGV[6] ttl (seconds) of the counter and the zset, renewed on every publish
-- ARGV[7] shard channel of the lesson (same hash tag, so same slot)
-- ARGV[8] max payload bytes
-- Returns {0, seq} published | {1, status} lesson not ready | {2} lesson not preloaded
--         | {3} no such room in the readable version | {4, bytes} payload too large
-- Write-behind: the record for playback is not appended here yet (no stream
-- record format exists); see notes on the write-behind log.
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
if #ARGV[2] > tonumber(ARGV[8]) then
  return {4, #ARGV[2]}
end
local vb = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':'
if redis.call('HEXISTS', vb .. 'rooms', ARGV[1]) == 0 then
  return {3}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, seq .. ':' .. ARGV[4] .. ':' .. ARGV[3] .. ':' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[5]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('SPUBLISH', ARGV[7], 'signal:' .. ARGV[1] .. ':' .. seq)
return {0, seq}
