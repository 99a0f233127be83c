-- _mutation: helpers shared by the in-class mutation scripts; scripts.ts inlines
-- this file where a script says "-- @include _mutation.lua". Not a script itself.
--
-- Return codes: _head.lua's OK, E_LESSON_NOT_READY and E_LESSON_NOT_FOUND, and
-- these (the first element of every reply; src/store/redis/replyCodes.ts
-- MUTATION_CODES names each and turns it into a typed error, in one place):
-- @include _head.lua
-- @include _wb.lua
local E_STUDENT_NOT_FOUND = 3
local E_NODE_NOT_FOUND = 4
local E_ROOM_NOT_FOUND = 5
local E_GROUPS_NOT_ENABLED = 6  -- {6, orgPolicy}
local E_GROUP_FULL = 7          -- {7, taken, capacity}
local E_NOT_A_GROUP = 8         -- {8, kind}
local E_GROUP_NOT_IN_TEAM = 9
local E_STUDENT_NOT_IN_ROOM = 10
local E_NODE_NOT_IN_ROOM = 11
local E_BACKPRESSURE = 12       -- {12, stream length}
local E_NO_FREE_GROUP = 13

-- Key base of the readable version ("<prefix>{L<id>}:v<n>:"), or nil and the error reply.
-- head is "<prefix>{L<id>}:head", so every derived key shares its hash tag.
local function version_base(head)
  local _, vb, unreadable = readable(head)
  return vb, unreadable
end

-- A student's decoded position {n = node id, r = {{room, partition}, ...}}, or nil.
local function position(vb, buckets, uid)
  local b = tonumber(buckets or '0') or 0
  if b < 1 then return nil end
  local blob = redis.call('HGET', key_positions(vb, position_bucket(uid, b)), uid)
  if not blob then return nil end
  return cmsgpack.unpack(blob)
end

-- The partition of a room in a position, or nil when the student is not a member.
local function room_partition(pos, room)
  for i = 1, #pos.r do
    if pos.r[i][1] == room then return pos.r[i][2] end
  end
  return nil
end

-- A student's position when it is a member of `room`, else nil and the error
-- reply: STUDENT_NOT_FOUND, ROOM_NOT_FOUND or STUDENT_NOT_IN_ROOM. A room in the
-- student's position exists; only a miss needs telling the errors apart.
local function member_position(vb, uid, room)
  local pos = position(vb, redis.call('HGET', key_lesson(vb), 'posBuckets'), uid)
  if pos and room_partition(pos, room) then return pos end
  if redis.call('HEXISTS', key_rooms(vb), room) == 0 then return nil, {E_ROOM_NOT_FOUND} end
  if not pos then return nil, {E_STUDENT_NOT_FOUND} end
  return nil, {E_STUDENT_NOT_IN_ROOM}
end

-- A node blob: the readable version's, else one created in class.
local function node_blob(vb, dyn, id)
  return redis.call('HGET', key_nodes(vb), id) or redis.call('HGET', dyn, id)
end

-- OK when the stream has room for another record, else the back-pressure reply.
-- Checked before any write, so a refused mutation writes nothing.
local function stream_full(stream, max)
  local n = redis.call('XLEN', stream)
  if n >= tonumber(max) then return {E_BACKPRESSURE, n} end
  return nil
end
