-- read_room: one room of the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- Returns {0, version, room blob or false} | {1, status} | {2}
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local vb = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':'
return {0, h[1], redis.call('HGET', vb .. 'rooms', ARGV[1])}
