-- read_room: one room of the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- Returns {0, version, room blob or false} | {1, status} | {2}
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
return {0, version, redis.call('HGET', vb .. 'rooms', ARGV[1])}
