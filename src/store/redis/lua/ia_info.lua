-- ia_info: UniversalInfo: everything a client of a room needs about its
-- interactions, in one read: the room's interaction version, its admins, the
-- lesson's teacher and the room's teacher (roles), and each active session
-- with its links.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- Returns {OK, room version, {admin uids}, lesson teacher uid, room teacher uid,
--   session id, session HGETALL, links HGETALL, ...} | {error code}.
-- @include _interaction.lua

local vb, err = version_base(KEYS[1])
if not vb then return err end
local room = ARGV[1]
local rb = redis.call('HGET', key_rooms(vb), room)
if not rb then return {E_ROOM_NOT_FOUND} end
local base = lesson_base(KEYS[1])
local out = {OK, redis.call('HGET', key_ia_room_version(base), room) or '0', redis.call('SMEMBERS', key_ia_admins(base, room)),
  redis.call('HGET', key_lesson(vb), 'teacherUid') or '0', string.format('%.0f', cmsgpack.unpack(rb).teacherUid or 0)}
for _, sid in ipairs(redis.call('ZRANGE', key_ia_room(base, room), 0, -1)) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGETALL', key_ia_session(base, sid))
  out[#out + 1] = redis.call('HGETALL', key_ia_links(base, sid))
end
return out
