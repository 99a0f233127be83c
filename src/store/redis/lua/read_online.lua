-- read_online: how many members of a room sent a heartbeat at or after a given
-- time, per online partition (st:on:<room>:<p>, uid scored by last heartbeat ms)
-- and in total. O(partitions); exact with or without the trimming heartbeats do.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] oldest heartbeat that still counts (ms)
-- Returns {OK, version, total, {count per partition}} | {E_ROOM_NOT_FOUND, version} | _head.lua's codes
-- @include _head.lua
local E_ROOM_NOT_FOUND = 3
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local base = lesson_base(KEYS[1])
local blob = redis.call('HGET', key_rooms(vb), ARGV[1])
if not blob then return {E_ROOM_NOT_FOUND, version} end
local parts = tonumber(cmsgpack.unpack(blob).partitions) or 0
local total, per = 0, {}
for p = 0, parts - 1 do
  local n = redis.call('ZCOUNT', key_state_online(base, ARGV[1], p), ARGV[2], '+inf')
  per[#per + 1] = n
  total = total + n
end
return {OK, version, total, per}
