-- read_lesson: the readable version's lesson record and all its rooms, one round trip.
-- Keys of the version are derived from KEYS[1] and share its hash tag (same slot).
-- KEYS[1] lesson head hash ("<base>head")
-- Returns {OK, version, lesson HGETALL, rooms HGETALL} | _head.lua's codes
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
return {OK, version, redis.call('HGETALL', key_lesson(vb)), redis.call('HGETALL', key_rooms(vb))}
