-- mute: mute or unmute one student, or a whole org node (group, team, ...), in a
-- room, with its write-behind record, in one atomic step. A muted node mutes
-- every student below it; readers check the student's set and its path's nodes.
-- KEYS[1] lesson head hash
-- KEYS[2] st:mute:<room>      set of muted uids
-- KEYS[3] st:mutenode:<room>  set of muted node ids
-- KEYS[4] st:ver              last write-behind version
-- KEYS[5] write-behind stream
-- ARGV[1] room id
-- ARGV[2] 'u' (a student) or 'n' (an org node)
-- ARGV[3] uid (decimal) or node id
-- ARGV[4] '1' to mute, '0' to unmute
-- ARGV[5] now (ms)
-- ARGV[6] max stream length (back pressure)
-- ARGV[7] ttl (seconds) of the state keys
-- ARGV[8] shard channel of the lesson
-- Returns {OK, changed 0|1, version or ''} | {error code, detail...} (_mutation.lua); an error writes nothing.
-- Publishes state:<uid> (a student) or mute:<room> (the room's muted nodes) on a change.
-- @include _mutation.lua

local room, kind, target, on = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local vb, err = version_base(KEYS[1])
if not vb then return err end
local set, entity, field, msg
if kind == 'u' then
  local _, miss = member_position(vb, target, room)
  if miss then return miss end
  set, entity, field, msg = KEYS[2], 'mute', 'u', 'state:' .. target
else
  local rb = redis.call('HGET', key_rooms(vb), room)
  if not rb then return {E_ROOM_NOT_FOUND} end
  local nb = node_blob(vb, key_state_dyn(lesson_base(KEYS[1])), target)
  if not nb then return {E_NODE_NOT_FOUND} end
  local root = cmsgpack.unpack(rb).rootNodeId
  -- The node must be the room's root node or below it.
  if not string.find(cmsgpack.unpack(nb).path .. '/', '/' .. root .. '/', 1, true) then return {E_NODE_NOT_IN_ROOM} end
  set, entity, field, msg = KEYS[3], 'mutenode', 'n', 'mute:' .. room
end

if (redis.call('SISMEMBER', set, target) == 1) == on then return {OK, 0, ''} end
local full = stream_full(KEYS[5], ARGV[6])
if full then return full end

local ver = next_version(KEYS[4], ARGV[7])
if on then redis.call('SADD', set, target) else redis.call('SREM', set, target) end
redis.call('EXPIRE', set, ARGV[7])
wb_append(KEYS[5], ARGV[9], 'e', entity, 'v', ver, 'r', room, field, target, 'm', on and '1' or '0', 't', ARGV[5])
redis.call('SPUBLISH', ARGV[8], msg)
return {OK, 1, ver}
