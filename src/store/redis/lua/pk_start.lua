-- pk_start: starts a PK round between two sides in a scope (a session, or a
-- room): two org nodes (neither under the other), or the two seat sides
-- 'left' and 'right'. One round at a time per scope: while one runs, another
-- is refused. The round's record goes to the write-behind stream.
-- KEYS[1] lesson head hash
-- KEYS[2] st:ver     last write-behind version
-- KEYS[3] write-behind stream
-- ARGV[1]  scope ('s:<sessionId>' or 'r:<roomId>')
-- ARGV[2]  room id
-- ARGV[3]  kind: 'node' or 'seat'
-- ARGV[4]  side a (node id, or 'left')
-- ARGV[5]  side b (node id, or 'right')
-- ARGV[6]  now (ms): the round starts now
-- ARGV[7]  duration (ms)
-- ARGV[8]  by: uid of the caller
-- ARGV[9]  max stream length (back pressure)
-- ARGV[10] ttl (seconds) of the score keys
-- ARGV[11] shard channel of the lesson
-- Returns {OK, round id, start, end, version} | {error code, detail...} (_score.lua); an error writes nothing.
-- Publishes score:<roomId>.
-- @include _score.lua

local scope, room, kind, a, b, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local vb, err = version_base(KEYS[1])
if not vb then return err end
local base = lesson_base(KEYS[1])
local rb = redis.call('HGET', key_rooms(vb), room)
if not rb then return {E_ROOM_NOT_FOUND} end
if kind == 'node' then
  local root = cmsgpack.unpack(rb).rootNodeId
  local pa, pb = node_path(vb, base, a), node_path(vb, base, b)
  if not pa or not pb then return {E_NODE_NOT_FOUND, pa and b or a} end
  if not path_under(pa, root) or not path_under(pb, root) then return {E_NODE_NOT_IN_ROOM, path_under(pa, root) and b or a} end
  if path_under(pa, b) or path_under(pb, a) then return {E_PK_SIDES_INVALID, 'one side is under the other'} end
end
local pk = key_score_pk(base, scope)
local h = redis.call('HMGET', pk, 'id', 'end', 'status')
if h[1] and h[3] == 'run' and tonumber(now) < tonumber(h[2]) then return {E_PK_ROUND_RUNNING, h[1], h[2]} end
local full = stream_full(KEYS[3], ARGV[9])
if full then return full end

local ver = next_version(KEYS[2], ARGV[10])
local seqKey = key_score_pk_seq(base)
local id = tostring(redis.call('INCR', seqKey))
redis.call('EXPIRE', seqKey, ARGV[10])
local stop = string.format('%.0f', tonumber(now) + tonumber(ARGV[7]))
redis.call('DEL', pk)
redis.call('HSET', pk, 'id', id, 'kind', kind, 'a', a, 'b', b, 'room', room, 'start', now, 'end', stop, 'status', 'run', 'pa', 0, 'pb', 0, 'by', ARGV[8])
redis.call('EXPIRE', pk, ARGV[10])
redis.call('SADD', key_score_scopes(base), scope)
redis.call('EXPIRE', key_score_scopes(base), ARGV[10])
wb_append(KEYS[3], ARGV[12], 'e', 'pk', 'v', ver, 'id', id, 'sc', scope, 'r', room, 'kd', kind, 'a', a, 'b', b,
  'st', now, 'en', stop, 'x', 'run', 'pa', '0', 'pb', '0', 't', now, 'by', ARGV[8])
redis.call('SPUBLISH', ARGV[11], 'score:' .. room)
return {OK, id, now, stop, ver}
