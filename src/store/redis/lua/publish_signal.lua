-- publish_signal: append a courseware signal to a room of the readable version,
-- record it for playback on the lesson's write-behind stream and tell every
-- gateway, in one atomic step: a gateway that hears the notification always
-- finds the signal in the zset, and a signal in the zset always has its record.
-- KEYS[1] lesson head hash
-- KEYS[2] room's signal sequence counter
-- KEYS[3] room's signal zset (score = seq, member = '<seq>:<at>:<by>:<payload>';
--         the seq inside keeps members unique when payloads repeat)
-- KEYS[4] st:ver  last write-behind version of the lesson
-- KEYS[5] write-behind stream of the lesson
-- ARGV[1] room id
-- ARGV[2] payload (opaque text)
-- ARGV[3] publisher uid
-- ARGV[4] now (ms)
-- ARGV[5] signals retained per room (older ones are trimmed away)
-- ARGV[6] ttl (seconds) of the counter, the zset and the version key, renewed on every publish
-- ARGV[7] shard channel of the lesson (same hash tag, so same slot)
-- ARGV[8] max payload bytes
-- ARGV[9] max write-behind stream length (back pressure)
-- Returns {OK, seq, write-behind version} published | _head.lua's codes | one of
-- its own codes below (not _mutation.lua's). An error writes nothing.
-- Record: e=signal v r=room s=seq t=at u=publisher d=payload (the flusher writes
-- it to signal_log).
-- @include _head.lua
-- @include _wb.lua
local E_ROOM_NOT_FOUND = 3      -- {3}: no such room in the readable version
local E_PAYLOAD_TOO_LARGE = 4   -- {4, bytes}
local E_BACKPRESSURE = 5        -- {5, stream length}: the write-behind stream is full
local _, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
if #ARGV[2] > tonumber(ARGV[8]) then
  return {E_PAYLOAD_TOO_LARGE, #ARGV[2]}
end
if redis.call('HEXISTS', key_rooms(vb), ARGV[1]) == 0 then
  return {E_ROOM_NOT_FOUND}
end
local pending = redis.call('XLEN', KEYS[5])
if pending >= tonumber(ARGV[9]) then
  return {E_BACKPRESSURE, pending}
end

-- The write-behind version, by the rule every record follows (_wb.lua).
local ver = next_version(KEYS[4], ARGV[6])

local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, seq .. ':' .. ARGV[4] .. ':' .. ARGV[3] .. ':' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[5]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[6])
wb_append(KEYS[5], ARGV[10], 'e', 'signal', 'v', ver, 'r', ARGV[1], 's', seq, 't', ARGV[4], 'u', ARGV[3], 'd', ARGV[2])
redis.call('SPUBLISH', ARGV[7], 'signal:' .. ARGV[1] .. ':' .. seq)
return {OK, seq, ver}
