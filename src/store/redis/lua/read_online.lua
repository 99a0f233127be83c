-- read_online: how many students of a room are online now: per partition,
-- members whose last heartbeat is within the window. O(partitions).
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] now (ms)
-- ARGV[3] online window (ms)
-- Returns {0, version, total, {count per partition}} | {1, status} | {2} | {5} unknown room
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local base = string.sub(KEYS[1], 1, -5)
local rb = redis.call('HGET', base .. 'v' .. h[1] .. ':rooms', ARGV[1])
if not rb then return {5} end
local parts = cmsgpack.unpack(rb).partitions or 0
local min = string.format('%.0f', tonumber(ARGV[2]) - tonumber(ARGV[3]))
local total, per = 0, {}
for p = 0, parts - 1 do
  local n = redis.call('ZCOUNT', base .. 'st:on:' .. ARGV[1] .. ':' .. p, min, '+inf')
  per[#per + 1] = n
  total = total + n
end
return {0, h[1], total, per}
