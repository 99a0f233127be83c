-- move_students: move a batch of students to new org nodes (and a new tutor's
-- rooms) in the readable version, atomically: position blobs, member partitions
-- of the rooms left and joined, room member counts, node sizes, and, for
-- /lesson/tutor/team/group, the tutor's group seats (grown or shrunk the way a
-- fresh compile of the changed source would make them). Idempotent: a move to
-- where the student already is changes nothing. Everything is validated before
-- the first write, so a bad move leaves the lesson untouched.
-- Version keys are derived from KEYS[1] and share its hash tag (one slot).
-- KEYS[1] lesson head hash
-- ARGV[1] now (ms)
-- ARGV[2] ttl (seconds) for member keys this creates
-- ARGV[3] group capacity (0: the lesson has no group seats to maintain)
-- ARGV[4] groups per team
-- ARGV[5] tutor phases with rooms, comma-separated (e.g. 'before,in,after', '' none)
-- ARGV[6..] triples: uid, new node id, new tutor uid ('' when the student has no tutor)
-- Returns {OK, version, changeSeq, {1 moved | 0 unchanged per move}, {node id, node blob, ...} written,
--   {node id, ...} deleted, {room id, room blob, ...} written, {uid, position blob, ...} of the students moved}
--   | _head.lua's codes | one of these (3 is not used, kept apart from the other scripts' 3):
-- @include _head.lua
local E_STUDENT_NOT_FOUND = 4   -- {4, uid}: no such student
local E_NODE_NOT_FOUND = 5      -- {5, node id}: no such node
local E_NO_POSITIONS = 6        -- {6}: the version holds no positions (minimal mode)
local head = KEYS[1]
local base = lesson_base(head)
local version, vb, unreadable = readable(head)
if unreadable then return unreadable end
local lessonKey = key_lesson(vb)
local L = redis.call('HMGET', lessonKey, 'posBuckets', 'partitionSize', 'preloadMode', 'lessonId', 'nodeCount')
local buckets = tonumber(L[1] or '0') or 0
if buckets < 1 then return {E_NO_POSITIONS} end
local psize = tonumber(L[2])
local full = L[3] == 'full'
local lessonId = L[4]
local nodeCount = tonumber(L[5] or '0') or 0
local nodesKey, roomsKey, indexKey = key_nodes(vb), key_rooms(vb), key_index(vb)
local now, ttl = ARGV[1], tonumber(ARGV[2])
local groupCap, groupsPerTeam = tonumber(ARGV[3]), tonumber(ARGV[4])
local phases = {}
for ph in string.gmatch(ARGV[5], '[^,]+') do phases[#phases + 1] = ph end

-- msgpack of an org node with explicit nils (cmsgpack drops nil fields and
-- encodes an empty table as a map; readers expect null and []).
local NODE_FIELDS = {'nodeId', 'parentId', 'rootId', 'virtualNodeId', 'sourceId', 'kind', 'path', 'depth', 'capacity', 'size', 'childIds'}
local function packNode(n)
  local out = {'\139'}
  for _, k in ipairs(NODE_FIELDS) do
    out[#out + 1] = cmsgpack.pack(k)
    local v = n[k]
    if v == nil then
      out[#out + 1] = '\192'
    elseif k == 'childIds' and #v == 0 then
      out[#out + 1] = '\144'
    else
      out[#out + 1] = cmsgpack.pack(v)
    end
  end
  return table.concat(out)
end

local nodes, dirtyNodes, deletedNodes = {}, {}, {}
local function getNode(id)
  local n = nodes[id]
  if n == nil then
    local b = redis.call('HGET', nodesKey, id)
    if not b then return nil end
    n = cmsgpack.unpack(b)
    if n.childIds == nil then n.childIds = {} end
    nodes[id] = n
  end
  return n
end
local rooms, dirtyRooms = {}, {}
local function getRoom(id)
  local r = rooms[id]
  if r == nil then
    local b = redis.call('HGET', roomsKey, id)
    if not b then return nil end
    r = cmsgpack.unpack(b)
    rooms[id] = r
  end
  return r
end

-- Phase 1: validate every move.
local moves = {}
for i = 6, #ARGV, 3 do
  local uid, node, tutor = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local bkey = key_positions(vb, position_bucket(uid, buckets))
  local blob = redis.call('HGET', bkey, uid)
  if not blob then return {E_STUDENT_NOT_FOUND, uid} end
  if not getNode(node) then return {E_NODE_NOT_FOUND, node} end
  moves[#moves + 1] = {uid, node, tutor, bkey}
end

-- Phase 2: apply.
local statuses, movedUids, movedBlobs, touchedTutors = {}, {}, {}, {}
for mi, m in ipairs(moves) do
  local uid, node, tutor, bkey = m[1], m[2], m[3], m[4]
  -- Read again: an earlier move of this batch may have moved the same student.
  local pos = cmsgpack.unpack(redis.call('HGET', bkey, uid))
  local oldSlots = pos.r
  local keep, oldTutor = {}, {}
  for _, s in ipairs(oldSlots) do
    local r = getRoom(s[1])
    if r and r.roomType ~= 'main' then oldTutor[s[1]] = s[2] else keep[#keep + 1] = s end
  end
  local newTutorRooms = {}
  if tutor ~= '' then
    for _, ph in ipairs(phases) do
      local rid = 't' .. tutor .. '.' .. ph
      if getRoom(rid) then newTutorRooms[#newTutorRooms + 1] = rid end
    end
  end
  local sameRooms = true
  local n = 0
  for _ in pairs(oldTutor) do n = n + 1 end
  if n ~= #newTutorRooms then sameRooms = false end
  for _, rid in ipairs(newTutorRooms) do
    if oldTutor[rid] == nil then sameRooms = false end
  end

  if pos.n == node and sameRooms then
    statuses[mi] = 0
  else
    statuses[mi] = 1
    movedUids[#movedUids + 1] = uid
    local newSlots = {}
    for _, s in ipairs(keep) do newSlots[#newSlots + 1] = {s[1], s[2]} end
    if sameRooms then
      for _, rid in ipairs(newTutorRooms) do newSlots[#newSlots + 1] = {rid, oldTutor[rid]} end
    else
      -- Join order: the score the student has in the main room's partition.
      local order = 0
      if full then
        for _, s in ipairs(keep) do
          local sc = redis.call('ZSCORE', key_members(vb, s[1], s[2]), uid)
          if sc then order = sc; break end
        end
      end
      for rid, p in pairs(oldTutor) do
        local r = getRoom(rid)
        if full then redis.call('ZREM', key_members(vb, rid, p), uid) end
        r.memberCount = r.memberCount - 1
        if r.memberCount <= 0 then r.memberCount = 0; r.partitions = 0 end
        dirtyRooms[rid] = true
      end
      if #newTutorRooms > 0 then
        -- A tutor's rooms share one member list: same partition in each. Fill the
        -- last partition, open a new one when it is full.
        local r0 = getRoom(newTutorRooms[1])
        local p = 0
        if r0.partitions > 0 then
          p = r0.partitions - 1
          local used
          if full then used = redis.call('ZCARD', key_members(vb, newTutorRooms[1], p)) else used = r0.memberCount - p * psize end
          if used >= psize then p = p + 1 end
        end
        for _, rid in ipairs(newTutorRooms) do
          local r = getRoom(rid)
          if full then
            local key = key_members(vb, rid, p)
            if redis.call('ZADD', key, order, uid) == 1 and redis.call('ZCARD', key) == 1 then
              redis.call('EXPIRE', key, ttl)
              redis.call('SADD', indexKey, key)
            end
          end
          r.memberCount = r.memberCount + 1
          if r.partitions < p + 1 then r.partitions = p + 1 end
          dirtyRooms[rid] = true
          newSlots[#newSlots + 1] = {rid, p}
        end
      end
    end
    if pos.n ~= node then
      local from, to = getNode(pos.n), getNode(node)
      if from then
        from.size = from.size - 1
        dirtyNodes[pos.n] = true
        if from.kind == 'tutor' then touchedTutors[pos.n] = true end
      end
      to.size = to.size + 1
      dirtyNodes[node] = true
      if to.kind == 'tutor' then touchedTutors[node] = true end
    end
    local blob = '\130' .. cmsgpack.pack('n') .. cmsgpack.pack(node) .. cmsgpack.pack('r') .. cmsgpack.pack(newSlots)
    redis.call('HSET', bkey, uid, blob)
    movedBlobs[#movedBlobs + 1] = uid
    movedBlobs[#movedBlobs + 1] = blob
  end
end

-- Group seats of the tutors whose student count changed: as many groups as a
-- compile would make (ceil(students / capacity)); groups are only taken away
-- while nobody sits in them.
if groupCap > 0 then
  local seatsKey = key_state_seats(base)
  for tid in pairs(touchedTutors) do
    local t = getNode(tid)
    local groups = {}
    for _, teamId in ipairs(t.childIds) do
      local team = getNode(teamId)
      if team then
        for _, gid in ipairs(team.childIds) do groups[#groups + 1] = {gid, teamId} end
      end
    end
    local count = #groups
    local needed = math.ceil(t.size / groupCap)
    while count < needed do
      local g = count + 1
      local teamNo = math.ceil(g / groupsPerTeam)
      local teamId = tid .. '.m' .. teamNo
      local team = getNode(teamId)
      if not team then
        team = {nodeId = teamId, parentId = tid, rootId = t.rootId, virtualNodeId = lessonId .. ':' .. teamId, kind = 'team',
          path = t.path .. '/' .. teamId, depth = t.depth + 1, size = 0, childIds = {}}
        nodes[teamId] = team
        t.childIds[#t.childIds + 1] = teamId
        deletedNodes[teamId] = nil
        nodeCount = nodeCount + 1
      end
      local gid = tid .. '.g' .. g
      nodes[gid] = {nodeId = gid, parentId = teamId, rootId = t.rootId, virtualNodeId = lessonId .. ':' .. gid, kind = 'group',
        path = team.path .. '/' .. gid, depth = team.depth + 1, capacity = groupCap, size = 0, childIds = {}}
      team.childIds[#team.childIds + 1] = gid
      deletedNodes[gid] = nil
      dirtyNodes[gid], dirtyNodes[teamId], dirtyNodes[tid] = true, true, true
      groups[#groups + 1] = {gid, teamId}
      count = g
      nodeCount = nodeCount + 1
    end
    while count > needed do
      local gid, teamId = groups[count][1], groups[count][2]
      local taken = tonumber(redis.call('HGET', seatsKey, gid) or '0') or 0
      local g = getNode(gid)
      if taken > 0 or (g and g.size > 0) then break end
      local team = getNode(teamId)
      table.remove(team.childIds)
      nodes[gid] = nil
      dirtyNodes[gid] = nil
      deletedNodes[gid] = true
      nodeCount = nodeCount - 1
      dirtyNodes[teamId] = true
      if #team.childIds == 0 then
        table.remove(t.childIds)
        nodes[teamId] = nil
        dirtyNodes[teamId] = nil
        deletedNodes[teamId] = true
        nodeCount = nodeCount - 1
        dirtyNodes[tid] = true
      end
      groups[count] = nil
      count = count - 1
    end
  end
end

local chan = key_channel(base)
local anyChange = #movedUids > 0
local deletedIds, nodeIds, roomIds = {}, {}, {}
for id in pairs(deletedNodes) do
  redis.call('HDEL', nodesKey, id)
  redis.call('SPUBLISH', chan, 'node:' .. id)
  deletedIds[#deletedIds + 1] = id
end
for id in pairs(dirtyNodes) do
  local blob = packNode(nodes[id])
  redis.call('HSET', nodesKey, id, blob)
  redis.call('SPUBLISH', chan, 'node:' .. id)
  nodeIds[#nodeIds + 1] = id
  nodeIds[#nodeIds + 1] = blob
end
for id in pairs(dirtyRooms) do
  local blob = cmsgpack.pack(rooms[id])
  redis.call('HSET', roomsKey, id, blob)
  redis.call('SPUBLISH', chan, 'room:' .. id)
  roomIds[#roomIds + 1] = id
  roomIds[#roomIds + 1] = blob
end
redis.call('HSET', lessonKey, 'nodeCount', nodeCount)
for _, uid in ipairs(movedUids) do redis.call('SPUBLISH', chan, 'pos:' .. uid) end
local seq = redis.call('HINCRBY', head, 'changeSeq', 1)
if anyChange then redis.call('HSET', head, 'updatedAt', now) end
return {OK, tonumber(version), seq, statuses, nodeIds, deletedIds, roomIds, movedBlobs}
