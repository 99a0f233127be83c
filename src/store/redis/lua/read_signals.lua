-- read_signals: a room's signals after a sequence number: a gateway's tail
-- fetch, or a client's read when the local cache is off. Checks the room exists
-- in the readable version, so an unknown room is an error, not an empty log.
-- KEYS[1] lesson head hash
-- KEYS[2] room's signal sequence counter
-- KEYS[3] room's signal zset
-- ARGV[1] room id
-- ARGV[2] after: signals with seq > after are returned
-- ARGV[3] most signals to return
-- Returns {OK, version, lastSeq, firstSeq, {member, ...}}
--         | {E_ROOM_NOT_FOUND} no such room in the readable version | _head.lua's codes
--   lastSeq: the room's counter (0 before the first signal); a caller that saw
--   a higher one knows the log restarted (expired or lost with Redis).
--   firstSeq: lowest retained seq (lastSeq + 1 when none is retained).
-- @include _head.lua
local E_ROOM_NOT_FOUND = 3
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
if redis.call('HEXISTS', key_rooms(vb), ARGV[1]) == 0 then
  return {E_ROOM_NOT_FOUND}
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local firstSeq = last + 1
if first[2] then firstSeq = tonumber(first[2]) end
local members = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
return {OK, version, last, firstSeq, members}
