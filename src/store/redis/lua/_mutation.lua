-- _mutation: helpers shared by the in-class mutation scripts; scripts.ts inlines
-- this file where a script says "-- @include _mutation.lua". Not a script itself.
--
-- Return codes (the first element of every reply; src/store/redis/mutationCodes.ts
-- maps each to a typed error, in one place):
local OK = 0
local E_NOT_READY = 1           -- {1, head status}
local E_LESSON_NOT_FOUND = 2
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
-- @include _head.lua
local function version_base(head)
  local _, vb, unreadable = readable(head)
  return vb, unreadable
end

-- Key base of the lesson ("<prefix>{L<id>}:").
local function lesson_base(head)
  return string.sub(head, 1, -5)
end

-- A student's decoded position {n = node id, r = {{room, partition}, ...}}, or nil.
local function position(vb, buckets, uid)
  local b = tonumber(buckets or '0') or 0
  if b < 1 then return nil end
  local blob = redis.call('HGET', vb .. 'pos:' .. string.format('%d', tonumber(uid) % b), uid)
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

-- A node blob: the readable version's, else one created in class.
local function node_blob(vb, dyn, id)
  return redis.call('HGET', vb .. 'nodes', id) or redis.call('HGET', dyn, id)
end

-- OK when the stream has room for another record, else the back-pressure reply.
-- Checked before any write, so a refused mutation writes nothing.
local function stream_full(stream, max)
  local n = redis.call('XLEN', stream)
  if n >= tonumber(max) then return {E_BACKPRESSURE, n} end
  return nil
end

-- The next write-behind version: strictly increasing per lesson. One INCR on
-- the hot path; when the counter is new (or expired, or lost) it restarts at the
-- server clock in microseconds, which is above every version handed out before
-- as long as a lesson makes fewer than a million changes a second. So the key
-- may expire (ttl after its last restart) without ever breaking the order.
local function next_version(key, ttl)
  local v = redis.call('INCR', key)
  if v == 1 then
    local t = redis.call('TIME')
    v = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', key, string.format('%.0f', v), 'EX', ttl)
  end
  return string.format('%.0f', v)
end
