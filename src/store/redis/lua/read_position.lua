-- read_position: a student's position in the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] uid (decimal integer)
-- Returns {0, version, position blob or false} | {1, status} | {2}
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local buckets = tonumber(redis.call('HGET', vb .. 'lesson', 'posBuckets') or '0') or 0
if buckets < 1 then
  return {0, version, false}
end
local bucket = tonumber(ARGV[1]) % buckets
return {0, version, redis.call('HGET', vb .. 'pos:' .. string.format('%d', bucket), ARGV[1])}
