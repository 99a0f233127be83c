-- pick_group: a student joins a group under its tutor, chosen or placed
-- automatically, and the team grows new groups when its free seats fall below
-- the policy's threshold -- all in one atomic step with the write-behind records.
-- Policy /lesson/tutor/team/group: the student's position node is its tutor
-- node; teams are the tutor's children, groups the teams' children plus the
-- groups created in class (st:dynkids). Seats never exceed a group's capacity.
-- KEYS[1] lesson head hash
-- KEYS[2] st:group    hash uid -> group id
-- KEYS[3] st:seats    hash group id -> seats taken
-- KEYS[4] st:dyn      hash node id -> msgpack node created in class
-- KEYS[5] st:dynkids  hash team id -> msgpack array of group ids created in class
-- KEYS[6] st:dynseq   hash tutor id -> groups created so far
-- KEYS[7] st:ver      last write-behind version
-- KEYS[8] write-behind stream
-- ARGV[1] uid (decimal)
-- ARGV[2] group node id, or '' to place automatically
-- ARGV[3] now (ms)
-- ARGV[4] max stream length (back pressure)
-- ARGV[5] max groups created in class per team
-- ARGV[6] ttl (seconds) of the state keys
-- ARGV[7] shard channel of the lesson
-- ARGV[8] lesson id
-- Returns {OK, group id, previous group id or '', changed 0|1, version or '', created group id...}
--       | {error code, detail...} (codes in _mutation.lua); an error writes nothing.
-- Publishes state:<uid> on a change, node:<id> for each created group and node:<team> for its team.
-- @include _mutation.lua

local uid, want, now = ARGV[1], ARGV[2], ARGV[3]
local vb, err = version_base(KEYS[1])
if not vb then return err end
local l = redis.call('HMGET', key_lesson(vb), 'posBuckets', 'orgPolicy', 'groupCapacity', 'expandBelowFreeSeats')
if l[2] ~= '/lesson/tutor/team/group' or not l[3] then return {E_GROUPS_NOT_ENABLED, l[2] or ''} end
local cap = tonumber(l[3])
local below = tonumber(l[4] or '0') or 0
local pos = position(vb, l[1], uid)
if not pos then return {E_STUDENT_NOT_FOUND} end
local tutor = pos.n
local nodes = key_nodes(vb)
local cur = redis.call('HGET', KEYS[2], uid)

-- Groups created in class under a team, in creation order.
local function dyn_ids(team_id)
  local b = redis.call('HGET', KEYS[5], team_id)
  if b then return cmsgpack.unpack(b) end
  return {}
end

-- Capacities of groups created in class (their blobs carry it).
local function dyn_caps(ids)
  local caps = {}
  if #ids == 0 then return caps end
  local blobs = redis.call('HMGET', KEYS[4], unpack(ids))
  for i = 1, #ids do
    caps[i] = blobs[i] and (cmsgpack.unpack(blobs[i]).capacity or 0) or 0
  end
  return caps
end

-- Seats taken in each of `ids`.
local function taken(ids)
  if #ids == 0 then return {} end
  return redis.call('HMGET', KEYS[3], unpack(ids))
end

-- Free seats in a team (preloaded groups have the lesson's capacity).
local function team_free(team)
  local free = 0
  local ids = team.childIds or {}
  local s = taken(ids)
  for i = 1, #ids do free = free + math.max(0, cap - (tonumber(s[i]) or 0)) end
  local d = dyn_ids(team.nodeId)
  local dc = dyn_caps(d)
  s = taken(d)
  for i = 1, #d do free = free + math.max(0, dc[i] - (tonumber(s[i]) or 0)) end
  return free, d
end

-- Automatic placement, deterministic: the first preloaded group with a free
-- seat in tree order, else the first group created in class with one.
local function first_free()
  local tb = redis.call('HGET', nodes, tutor)
  if not tb then return nil end
  local team_ids = cmsgpack.unpack(tb).childIds or {}
  if #team_ids == 0 then return nil end
  local blobs = redis.call('HMGET', nodes, unpack(team_ids))
  local teams = {}
  for i = 1, #team_ids do
    if blobs[i] then
      local tm = cmsgpack.unpack(blobs[i])
      teams[#teams + 1] = tm
      local ids = tm.childIds or {}
      local s = taken(ids)
      for j = 1, #ids do
        if (tonumber(s[j]) or 0) < cap then return ids[j], tm end
      end
    end
  end
  for i = 1, #teams do
    local d = dyn_ids(teams[i].nodeId)
    local dc = dyn_caps(d)
    local s = taken(d)
    for j = 1, #d do
      if (tonumber(s[j]) or 0) < dc[j] then return d[j], teams[i] end
    end
  end
  return nil
end

local gid, team
if want == '' then
  if cur then return {OK, cur, cur, 0, ''} end
  gid, team = first_free()
  if not gid then return {E_NO_FREE_GROUP} end
else
  local gb = node_blob(vb, KEYS[4], want)
  if not gb then return {E_NODE_NOT_FOUND} end
  local g = cmsgpack.unpack(gb)
  if g.kind ~= 'group' then return {E_NOT_A_GROUP, g.kind or ''} end
  local tb = g.parentId and redis.call('HGET', nodes, g.parentId)
  team = tb and cmsgpack.unpack(tb)
  if not team or team.parentId ~= tutor then return {E_GROUP_NOT_IN_TEAM} end
  if cur == want then return {OK, cur, cur, 0, ''} end
  local n = tonumber(redis.call('HGET', KEYS[3], want) or '0') or 0
  if n >= (g.capacity or 0) then return {E_GROUP_FULL, n, g.capacity or 0} end
  gid = want
end

local full = stream_full(KEYS[8], ARGV[4])
if full then return full end

local ttl = ARGV[6]
local ver = next_version(KEYS[7], ttl)
redis.call('HINCRBY', KEYS[3], gid, 1)
if cur then redis.call('HINCRBY', KEYS[3], cur, -1) end
redis.call('HSET', KEYS[2], uid, gid)
wb_append(KEYS[8], ARGV[9], 'e', 'group', 'v', ver, 'u', uid, 'g', gid, 't', now)
redis.call('SPUBLISH', ARGV[7], 'state:' .. uid)

-- Dynamic expansion of the team the student joined.
local reply = {OK, gid, cur or '', 1, ver}
if below > 0 then
  local free, d = team_free(team)
  local max_dyn = tonumber(ARGV[5])
  local created = 0
  while free < below and #d < max_dyn do
    local k = redis.call('HINCRBY', KEYS[6], tutor, 1)
    local id = tutor .. '.x' .. k
    local path = team.path .. '/' .. id
    -- The same map msgpackr writes for a preloaded node (sourceId nil, no children).
    local blob = string.char(0x8b)
      .. cmsgpack.pack('nodeId', id, 'parentId', team.nodeId, 'rootId', team.rootId, 'virtualNodeId', ARGV[8] .. ':' .. id, 'sourceId')
      .. string.char(0xc0)
      .. cmsgpack.pack('kind', 'group', 'path', path, 'depth', team.depth + 1, 'capacity', cap, 'size', 0, 'childIds')
      .. string.char(0x90)
    redis.call('HSET', KEYS[4], id, blob)
    d[#d + 1] = id
    free = free + cap
    created = created + 1
    reply[#reply + 1] = id
    wb_append(KEYS[8], ARGV[9], 'e', 'node', 'v', ver, 'n', id, 'p', team.nodeId, 'c', cap, 'path', path, 'd', team.depth + 1, 't', now)
    redis.call('SPUBLISH', ARGV[7], 'node:' .. id)
  end
  if created > 0 then
    redis.call('HSET', KEYS[5], team.nodeId, cmsgpack.pack(d))
    redis.call('SPUBLISH', ARGV[7], 'node:' .. team.nodeId)
    redis.call('EXPIRE', KEYS[4], ttl)
    redis.call('EXPIRE', KEYS[5], ttl)
    redis.call('EXPIRE', KEYS[6], ttl)
  end
end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
return reply
