-- read_room: one room of the readable version.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- Returns {OK, version, room blob or false} | _head.lua's codes
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
return {OK, version, redis.call('HGET', key_rooms(vb), ARGV[1])}
