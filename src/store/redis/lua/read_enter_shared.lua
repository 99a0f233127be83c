-- read_enter_shared: the lesson-level part of enter that every student of a
-- lesson shares: the readable version's lesson record, all its rooms and all its
-- preloaded org nodes, with the change sequence they were read under. A gateway
-- holds it per version and change sequence, so enter.lua need not send it again.
-- KEYS[1] lesson head hash ("<base>head")
-- Returns {OK, version, change sequence, lesson HGETALL, rooms HGETALL, nodes HGETALL}
--   | _head.lua's codes
-- @include _head.lua
local version, vb, unreadable, changeSeq = readable(KEYS[1], 'changeSeq')
if unreadable then return unreadable end
changeSeq = changeSeq or '0'
return {OK, version, changeSeq, redis.call('HGETALL', key_lesson(vb)), redis.call('HGETALL', key_rooms(vb)), redis.call('HGETALL', key_nodes(vb))}
