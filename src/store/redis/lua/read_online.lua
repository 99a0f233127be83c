-- read_online: how many members of a room sent a heartbeat at or after a given
-- time, per online partition (st:on:<room>:<p>, uid scored by last heartbeat ms)
-- and in total. O(partitions); exact with or without the trimming heartbeats do.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] oldest heartbeat that still counts (ms)
-- Returns {0, version, total, {count per partition}} | {3, version} room unknown | {1, status} | {2}
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local base = string.sub(KEYS[1], 1, -5)
local blob = redis.call('HGET', vb .. 'rooms', ARGV[1])
if not blob then return {3, version} end
local parts = tonumber(cmsgpack.unpack(blob).partitions) or 0
local total, per = 0, {}
for p = 0, parts - 1 do
  local n = redis.call('ZCOUNT', base .. 'st:on:' .. ARGV[1] .. ':' .. p, ARGV[2], '+inf')
  per[#per + 1] = n
  total = total + n
end
return {0, version, total, per}
