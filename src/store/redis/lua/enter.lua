-- enter: everything a student needs to join a room, in one round trip: the lesson
-- record (left out when the caller holds it, see ARGV[3]), the student's position, rooms and org node (with path), the group it
-- picked, whether it is muted in the room (itself or any node on its path or its
-- group's path), and when it signed in.
-- Version and in-class state keys are derived from KEYS[1] (same hash tag, same
-- slot) by _keys.lua, which mirrors keys.ts (checked by a test).
-- KEYS[1] lesson head hash ("<base>head")
-- ARGV[1] uid (decimal integer)
-- ARGV[2] room id to enter ('' = the student's first room)
-- ARGV[3] version whose lesson-level part (record, every room, every preloaded
--         node) the caller holds ('0' = none)
-- ARGV[4] change sequence it holds that part under ('' = none). The sequence is
--         bumped by every in-place change of the version (change_lesson,
--         move_students). When version and sequence both still match, the reply
--         leaves out the lesson record, the room blobs and a node blob the
--         version holds (a node made or changed in class, in st:dyn, is sent).
-- ARGV[5] the held version's position bucket count (lesson record posBuckets),
--         used instead of reading it when the part is current
-- ARGV[6] fingerprint of the answer the caller holds for this student and room
--         ('' = none): when the answer's fingerprint is still this one, the
--         reply carries nothing else (a background refresh of an entry that
--         did not change reads a few bytes instead of the whole answer)
-- Returns
--   {OK, version, lesson HGETALL or false (left out), position blob, node blob or false,
--    {blobs of the student's rooms} or false (left out), room id entered,
--    group id or false, group node blob or false, muted itself 0|1,
--    muted node id or false, signed-in ms or false, change sequence,
--    1 when the lesson-level part was left out else 0, fingerprint, 0}
--   | {OK, version, false x4, room id entered, false x2, 0, false x2, change
--      sequence, 0, fingerprint, 1} when the fingerprint is ARGV[6]'s
--   The fingerprint (SHA1 hex) covers version, change sequence and every
--   field of the student's own: the lesson-level part is fixed by the first two.
--   | _head.lua's codes | or one of these:
-- @include _head.lua
local E_STUDENT_NOT_FOUND = 3   -- {3, version}: the student has no position in the lesson
local E_ROOM_NOT_FOUND = 4      -- {4, version, roomId}: the room does not exist
local E_ROOM_NOT_MEMBER = 5     -- {5, version, roomId}: the room exists but the student is not a member
local version, vb, unreadable, seq = readable(KEYS[1], 'changeSeq')
if unreadable then return unreadable end
local base = lesson_base(KEYS[1])
local uid = ARGV[1]
local changeSeq = seq or '0'
local shared = ARGV[3] == version and ARGV[4] == changeSeq

-- The caller holding the lesson-level part sends the version's position bucket count with it.
local buckets
if shared then buckets = tonumber(ARGV[5]) or 0 else buckets = tonumber(redis.call('HGET', key_lesson(vb), 'posBuckets') or '0') or 0 end
local pos = false
if buckets >= 1 then
  pos = redis.call('HGET', key_positions(vb, position_bucket(uid, buckets)), uid)
end
if not pos then return {E_STUDENT_NOT_FOUND, version} end
local p = cmsgpack.unpack(pos)

local roomId = ARGV[2]
local roomIds = {}
local member = false
for i, slot in ipairs(p.r) do
  roomIds[i] = slot[1]
  if slot[1] == roomId then member = true end
end
if #roomIds == 0 then return {E_ROOM_NOT_FOUND, version, roomId} end
if roomId == '' then
  roomId = roomIds[1]
elseif not member then
  if redis.call('HEXISTS', key_rooms(vb), roomId) == 1 then return {E_ROOM_NOT_MEMBER, version, roomId} end
  return {E_ROOM_NOT_FOUND, version, roomId}
end
local rooms = false
if not shared then rooms = redis.call('HMGET', key_rooms(vb), unpack(roomIds)) end

-- Nodes created or changed in class (st:dyn) override the preloaded ones.
local dyn = key_state_dyn(base)
local function node(id)
  local b = redis.call('HGET', dyn, id)
  if b then return b, true end
  return redis.call('HGET', key_nodes(vb), id), false
end
local nodeBlob, nodeDyn = node(p.n)
-- The caller holds the version's own nodes: only one made or changed in class is sent.
local sentNode = nodeBlob
if shared and not nodeDyn then sentNode = false end
local groupId = redis.call('HGET', key_state_group(base), uid)
local groupBlob = false
if groupId then groupBlob = node(groupId) end

-- Node ids whose mute applies: every node on the student's path and its group's path.
local ids = {}
local seen = {}
local function add(id)
  if not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
local function addPath(blob, id)
  if blob then
    for part in string.gmatch(cmsgpack.unpack(blob).path, '[^/]+') do add(part) end
  end
  add(id)
end
addPath(nodeBlob, p.n)
if groupId then addPath(groupBlob, groupId) end

local mutedSelf = redis.call('SISMEMBER', key_state_muted(base, roomId), uid)
local mutedNode = false
local flags = redis.call('SMISMEMBER', key_state_muted_nodes(base, roomId), unpack(ids))
for i, f in ipairs(flags) do
  if f == 1 then
    mutedNode = ids[i]
    break
  end
end
local signin = redis.call('HGET', key_state_signin(base), uid)
local fp = redis.sha1hex(table.concat({version, changeSeq, roomId, pos, nodeBlob or '', groupId or '', groupBlob or '', mutedSelf, mutedNode or '', signin or ''}, '\31'))
if ARGV[6] == fp then return {OK, version, false, false, false, false, roomId, false, false, 0, false, false, changeSeq, 0, fp, 1} end
local lesson = false
if not shared then lesson = redis.call('HGETALL', key_lesson(vb)) end
return {OK, version, lesson, pos, sentNode, rooms, roomId, groupId, groupBlob, mutedSelf, mutedNode, signin, changeSeq, shared and 1 or 0, fp, 0}
