-- read_scores: the live score reads, one round trip each: a leaderboard of
-- students (a room's, or the whole lesson's), an org node's rolled-up total
-- with the board of its children (one level of the tree), one student's totals
-- and ranks, and a scope's PK round.
-- KEYS[1] lesson head hash
-- ARGV[1] what: 'room' | 'lesson' | 'node' | 'student' | 'pk'
-- ARGV[2] room id ('room', 'student': '' for none), node id ('node'), scope ('pk')
-- ARGV[3] top N (room, lesson, node), or uid (student)
-- Returns, after OK:
--   room, lesson: students on the board, then uid, points pairs (highest first)
--   node:    node total ('' when none yet), children on the board, then id, points pairs
--   student: lesson total, lesson rank (0-based), room total, room rank ('' where none)
--   pk:      id, kind, a, b, room, start, end, status, pa, pb (or E_PK_ROUND_NOT_FOUND)
-- | {error code, detail...} (_score.lua).
-- @include _score.lua

local what, id = ARGV[1], ARGV[2]
local vb, err = version_base(KEYS[1])
if not vb then return err end
local base = lesson_base(KEYS[1])

local function board(key, n)
  local out = {OK, redis.call('ZCARD', key)}
  local top = redis.call('ZREVRANGE', key, 0, n - 1, 'WITHSCORES')
  for i = 1, #top do out[#out + 1] = top[i] end
  return out
end

if what == 'room' then
  if redis.call('HEXISTS', key_rooms(vb), id) == 0 then return {E_ROOM_NOT_FOUND} end
  return board(key_score_room(base, id), tonumber(ARGV[3]))
elseif what == 'lesson' then
  return board(key_score_users(base), tonumber(ARGV[3]))
elseif what == 'node' then
  if not node_path(vb, base, id) then return {E_NODE_NOT_FOUND} end
  local out = board(key_score_children(base, id), tonumber(ARGV[3]))
  table.insert(out, 2, redis.call('HGET', key_score_nodes(base), id) or '')
  return out
elseif what == 'student' then
  local uid = ARGV[3]
  if not position(vb, redis.call('HGET', key_lesson(vb), 'posBuckets'), uid) then return {E_STUDENT_NOT_FOUND} end
  local ku = key_score_users(base)
  local out = {OK, redis.call('ZSCORE', ku, uid) or '', redis.call('ZREVRANK', ku, uid) or '', '', ''}
  if id ~= '' then
    if redis.call('HEXISTS', key_rooms(vb), id) == 0 then return {E_ROOM_NOT_FOUND} end
    local kr = key_score_room(base, id)
    out[4] = redis.call('ZSCORE', kr, uid) or ''
    out[5] = redis.call('ZREVRANK', kr, uid) or ''
  end
  return out
else
  local h = redis.call('HMGET', key_score_pk(base, id), 'id', 'kind', 'a', 'b', 'room', 'start', 'end', 'status', 'pa', 'pb')
  if not h[1] then return {E_PK_ROUND_NOT_FOUND} end
  return {OK, h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10]}
end
