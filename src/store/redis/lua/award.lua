-- award: one score event (reward, answer, gift or manual adjustment), appended
-- to the lesson's ledger (its write-behind record) together with its effect on
-- every live total, in one atomic step. A replayed idempotency key changes
-- nothing and returns the reply the key first got.
-- KEYS[1] lesson head hash
-- KEYS[2] sc:idem    hash idempotency key -> reply
-- KEYS[3] st:ver     last write-behind version
-- KEYS[4] write-behind stream
-- ARGV[1]  idempotency key
-- ARGV[2]  room id
-- ARGV[3]  session id ('' when none): with it, seat totals and PK rounds are the session's, else the room's
-- ARGV[4]  'u' (a student) or 'n' (an org node)
-- ARGV[5]  uid (decimal) or node id
-- ARGV[6]  seat id ('' when none)
-- ARGV[7]  PK seat side: 'left', 'right' or ''
-- ARGV[8]  kind: reward | answer | gift | adjust
-- ARGV[9]  points (integer, may be negative)
-- ARGV[10] now (ms): PK rounds count the event only when start <= now < end
-- ARGV[11] by: uid of the caller
-- ARGV[12] PK round id the event must count for ('' when none): a round not running is refused
-- ARGV[13] max stream length (back pressure)
-- ARGV[14] ttl (seconds) of the score keys
-- ARGV[15] notice interval (ms): the first award in a room within it announces score:<roomId>
-- ARGV[16] shard channel of the lesson
-- Returns {OK, replayed 0|1, reply} where reply is
-- 'version|nodeId|userTotal|nodeTotal|roundId|side|sideTotal|roomTotal|at'
-- | {error code, detail...} (_score.lua); an error writes nothing.
-- Publishes score:<roomId> at most once per notice interval per room (readers
-- re-read once more an interval later, so later awards of the interval are seen too).
-- @include _score.lua

local key, room, session, tkind, target, seat, seatSide = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local pts, now, ttl = tonumber(ARGV[9]), ARGV[10], ARGV[14]
local done = redis.call('HGET', KEYS[2], key)
if done then return {OK, 1, done} end

local vb, err = version_base(KEYS[1])
if not vb then return err end
local base = lesson_base(KEYS[1])

local node, path, uid
if tkind == 'u' then
  uid = target
  local pos, miss = member_position(vb, uid, room)
  if not pos then return miss end
  -- The student's place in the tree now: the group it picked in class, else where the preload put it.
  node = redis.call('HGET', key_state_group(base), uid) or pos.n
  path = node_path(vb, base, node)
  if not path then return {E_NODE_NOT_FOUND} end
else
  uid = ''
  node = target
  local rb = redis.call('HGET', key_rooms(vb), room)
  if not rb then return {E_ROOM_NOT_FOUND} end
  path = node_path(vb, base, node)
  if not path then return {E_NODE_NOT_FOUND} end
  if not path_under(path, cmsgpack.unpack(rb).rootNodeId) then return {E_NODE_NOT_IN_ROOM} end
end

-- PK: the scope's running round counts the event for the side it belongs to.
-- The scope is a value, not a key name: scopeOf (src/model/scores.ts) is its TypeScript twin.
local scope = session ~= '' and ('s:' .. session) or ('r:' .. room)
local pk = key_score_pk(base, scope)
local round, h = running_round(pk, now)
if ARGV[12] ~= '' then
  if h[1] ~= ARGV[12] then return {E_PK_ROUND_NOT_FOUND} end
  if not round then return {E_PK_ROUND_CLOSED, h[1], h[6] or ''} end
end
local side = ''
if round then
  if round[2] == 'node' then
    if path_under(path, round[3]) then side = 'a' elseif path_under(path, round[4]) then side = 'b' end
  elseif seatSide == round[3] then side = 'a'
  elseif seatSide == round[4] then side = 'b' end
end

local full = stream_full(KEYS[4], ARGV[13])
if full then return full end

local ver = next_version(KEYS[3], ttl)
-- Totals expire `ttl` after their key was created: a key is new only when the
-- member's total is now exactly `pts` (it was 0 or absent), so only then is
-- EXPIRE worth its call (a lesson lasts hours, the TTL days).
local userTotal, roomTotal = '', ''
if uid ~= '' then
  local ku, kr = key_score_users(base), key_score_room(base, room)
  userTotal = redis.call('ZINCRBY', ku, pts, uid)
  roomTotal = redis.call('ZINCRBY', kr, pts, uid)
  if tonumber(userTotal) == pts then redis.call('EXPIRE', ku, ttl) end
  if tonumber(roomTotal) == pts then redis.call('EXPIRE', kr, ttl) end
end
-- Roll up the precomputed ancestor path: every node on it, and each node in its parent's level board.
local kn = key_score_nodes(base)
local nodeTotal, parent = '', nil
for id in string.gmatch(path, '[^/]+') do
  nodeTotal = redis.call('HINCRBY', kn, id, pts)
  if parent then
    local kk = key_score_children(base, parent)
    if tonumber(redis.call('ZINCRBY', kk, pts, id)) == pts then redis.call('EXPIRE', kk, ttl) end
  elseif nodeTotal == pts then
    redis.call('EXPIRE', kn, ttl)
  end
  parent = id
end
if seat ~= '' then
  local ks = key_score_seats(base, scope)
  if redis.call('HINCRBY', ks, seat, pts) == pts then redis.call('EXPIRE', ks, ttl) end
  if redis.call('SADD', key_score_scopes(base), scope) == 1 then redis.call('EXPIRE', key_score_scopes(base), ttl) end
end
local roundId, sideTotal = '', ''
if side ~= '' then
  roundId = round[1]
  sideTotal = redis.call('HINCRBY', pk, 'p' .. side, pts)
end

local reply = table.concat({ver, node, tostring(userTotal), tostring(nodeTotal), roundId, side, tostring(sideTotal), tostring(roomTotal), now}, '|')
redis.call('HSET', KEYS[2], key, reply)
redis.call('EXPIRE', KEYS[2], ttl)
-- The ledger record; optional fields only when set (a smaller entry to append, read and flush).
local rec = {'e', 'score', 'v', ver, 'k', key, 'r', room, 'n', node, 'path', path, 'kd', ARGV[8], 'p', ARGV[9], 't', now, 'b', ARGV[11]}
if uid ~= '' then rec[#rec + 1] = 'u'; rec[#rec + 1] = uid end
if session ~= '' then rec[#rec + 1] = 's'; rec[#rec + 1] = session end
if seat ~= '' then rec[#rec + 1] = 'st'; rec[#rec + 1] = seat; rec[#rec + 1] = 'sd'; rec[#rec + 1] = seatSide end
if side ~= '' then rec[#rec + 1] = 'pk'; rec[#rec + 1] = roundId; rec[#rec + 1] = 'ps'; rec[#rec + 1] = side end
wb_append(KEYS[4], ARGV[17], unpack(rec))
if redis.call('SET', key_score_notice(base, room), '1', 'PX', ARGV[15], 'NX') then redis.call('SPUBLISH', ARGV[16], 'score:' .. room) end
return {OK, 0, reply}
