-- read_position: a student's position in the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] uid (decimal integer)
-- Returns {OK, version, position blob or false} | _head.lua's codes
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local buckets = tonumber(redis.call('HGET', key_lesson(vb), 'posBuckets') or '0') or 0
if buckets < 1 then
  return {OK, version, false}
end
return {OK, version, redis.call('HGET', key_positions(vb, position_bucket(ARGV[1], buckets)), ARGV[1])}
