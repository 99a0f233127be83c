-- read_lesson: the readable version's lesson record and all its rooms, one round trip.
-- Keys of the version are derived from KEYS[1] and share its hash tag (same slot).
-- KEYS[1] lesson head hash ("<base>head")
-- Returns {0, version, lesson HGETALL, rooms HGETALL} | {1, status} not ready | {2} unknown lesson
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
return {0, version, redis.call('HGETALL', vb .. 'lesson'), redis.call('HGETALL', vb .. 'rooms')}
