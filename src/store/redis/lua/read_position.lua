-- read_position: a student's position in the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] uid (decimal integer)
-- Returns {0, version, position blob or false} | {1, status} | {2}
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local vb = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':'
local buckets = tonumber(redis.call('HGET', vb .. 'lesson', 'posBuckets') or '0') or 0
if buckets < 1 then
  return {0, h[1], false}
end
local bucket = tonumber(ARGV[1]) % buckets
return {0, h[1], redis.call('HGET', vb .. 'pos:' .. string.format('%d', bucket), ARGV[1])}
