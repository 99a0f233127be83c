-- read_lesson: the readable version's lesson record and all its rooms, one round trip.
-- Keys of the version are derived from KEYS[1] and share its hash tag (same slot).
-- KEYS[1] lesson head hash ("<base>head")
-- Returns {0, version, lesson HGETALL, rooms HGETALL} | {1, status} not ready | {2} unknown lesson
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local vb = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':'
return {0, h[1], redis.call('HGETALL', vb .. 'lesson'), redis.call('HGETALL', vb .. 'rooms')}
