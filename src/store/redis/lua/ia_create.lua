-- ia_create: FastCreate: a session in a room with its creator's link
-- (connecting: the creator needs no acceptance) and, optionally, the
-- invitation of one user, in one atomic step (_interaction.lua).
-- KEYS[1] lesson head hash (every other key derives from it: same slot)
-- ARGV[1] room id
-- ARGV[2] kind: duo | multi
-- ARGV[3] capacity (seated links at most; a duo's is 2)
-- ARGV[4] RTC channel id, or '' for ARGV[18] .. session id
-- ARGV[5] uid to invite, or ''
-- ARGV[6] creator uid
-- ARGV[7] '1' when the creator is admin by its lesson role (teacher)
-- ARGV[8] '1' when the creator is a tutor (admin in its rooms and over its students)
-- ARGV[9] '1' when a platform service acts (every role)
-- ARGV[10] permission masks (model/interaction.ts PERMISSION_MASKS)
-- ARGV[11] now (ms)
-- ARGV[12] invitation/application timeout (ms), unless the lesson's policy says
-- ARGV[13] connect timeout (ms), unless the lesson's policy says
-- ARGV[14] max write-behind stream length (back pressure)
-- ARGV[15] ttl (seconds) of the interaction keys
-- ARGV[16] active sessions a room may hold
-- ARGV[17] (unused by create; the pending bound of later invitations)
-- ARGV[18] default channel id prefix
-- ARGV[19] layout template id
-- ARGV[20] its seat spec (model/seats.ts encodeSpec)
-- ARGV[21] trace stamp ('' when untraced), stamped on the write-behind records
-- Returns {OK, session id, version, channel id} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[11]), ttl = ARGV[15], maxStream = ARGV[14], inviteMs = tonumber(ARGV[12]), connectMs = tonumber(ARGV[13]), tr = ARGV[21]})
if not R then return err end
local room, kind, me, invitee = ARGV[1], ARGV[2], ARGV[6], ARGV[5]
if redis.call('HEXISTS', key_rooms(R.vb), room) == 0 then return {E_ROOM_NOT_FOUND} end
if kind ~= 'duo' and kind ~= 'multi' then return {E_BAD_INPUT, 'kind must be duo or multi'} end
local cap = kind == 'duo' and 2 or tonumber(ARGV[3])
if not ia_known(R, me) then return {E_USER_NOT_FOUND, me} end
if invitee ~= '' then
  if invitee == me then return {E_BAD_INPUT, 'a creator cannot invite itself'} end
  if not ia_known(R, invitee) then return {E_USER_NOT_FOUND, invitee} end
  local roles = bit.bor(ia_roles(R, nil, {uid = me, admin = ARGV[7], tutor = ARGV[8], service = ARGV[9], room = room}, invitee), R_INITIATOR)
  local denied = ia_deny(perm_masks(ARGV[10]), 'invite', roles)
  if denied then return denied end
end
local busy = ia_busy(R, me) or (invitee ~= '' and ia_busy(R, invitee))
if busy then return busy end
local roomKey = key_ia_room(R.base, room)
local open = redis.call('ZCARD', roomKey)
if open >= tonumber(ARGV[16]) then return {E_LIMIT_REACHED, 'sessions', open, ARGV[16]} end
local ch = ARGV[4]
if ch ~= '' then
  local holder = redis.call('HGET', key_ia_channels(R.base), ch)
  if holder and redis.call('HGET', key_ia_session(R.base, holder), 'st') == 'active' then return {E_CHANNEL_IN_USE, holder} end
end
local full = stream_full(R.stream, R.maxStream)
if full then return full end

local sid = 's' .. redis.call('INCR', key_ia_seq(R.base))
if ch == '' then ch = ARGV[18] .. sid end
redis.call('HSET', key_ia_session(R.base, sid), 'r', room, 'k', kind, 'c', cap, 'ch', ch, 'by', me, 'st', 'active', 'at', R.now, 'n', 0, 'a', 0, 'p', 0,
  'tp', ARGV[19], 'sp', ARGV[20], 'qn', 0)
local S = ia_session(R, sid)
redis.call('HSET', key_ia_channels(R.base), ch, sid)
redis.call('ZADD', roomKey, R.now, sid)
redis.call('ZADD', key_ia_active(R.base), R.now, sid)
ia_new_link(R, S, me, 'connecting', 'c', me, 'create')
if invitee ~= '' then ia_new_link(R, S, invitee, 'initiated', 'i', me, 'invite') end
local ver = ia_finish(R)
ia_expire_new(R, S)
return {OK, sid, ver, ch}
