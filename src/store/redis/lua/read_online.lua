-- read_online: how many members of a room sent a heartbeat after a given time,
-- counted over the room's online partitions (st:on:<room>:<p>, scored by last heartbeat ms).
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] oldest heartbeat that still counts (ms)
-- Returns {0, version, count} | {3, version} room unknown | {1, status} | {2}
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local base = string.sub(KEYS[1], 1, -5)
local blob = redis.call('HGET', base .. 'v' .. h[1] .. ':rooms', ARGV[1])
if not blob then return {3, h[1]} end
local partitions = tonumber(cmsgpack.unpack(blob).partitions) or 0
if partitions < 1 then partitions = 1 end
local n = 0
for p = 0, partitions - 1 do
  n = n + redis.call('ZCOUNT', base .. 'st:on:' .. ARGV[1] .. ':' .. p, ARGV[2], '+inf')
end
return {0, h[1], n}
