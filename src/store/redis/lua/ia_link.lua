-- ia_link: one operation on one link of a session, checked and applied
-- atomically (_interaction.lua): invite, apply, accept, reject, cancel, kick,
-- leave. A link leaving the active states applies the end rule.
-- KEYS[1] lesson head hash
-- ARGV[1] operation: invite | apply | accept | reject | cancel | kick | leave
-- ARGV[2] session id
-- ARGV[3] uid of the link acted on (the invitee, applicant, kicked or leaving user)
-- ARGV[4] caller uid (0: a platform service acting for nobody in particular)
-- ARGV[5] '1' when the caller is admin by its lesson role (teacher)
-- ARGV[6] '1' when the caller is a tutor
-- ARGV[7] '1' when a platform service acts (every role, acts for anyone)
-- ARGV[8] permission masks (PERMISSION_MASKS)
-- ARGV[9] now (ms)
-- ARGV[10] invitation/application timeout (ms), unless the lesson's policy says
-- ARGV[11] connect timeout (ms), unless the lesson's policy says
-- ARGV[12] max write-behind stream length
-- ARGV[13] ttl (seconds)
-- ARGV[14] pending (initiated) links a session may hold
-- Returns {OK, version, session status, link state, generation} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[9]), ttl = ARGV[13], maxStream = ARGV[12], inviteMs = tonumber(ARGV[10]), connectMs = tonumber(ARGV[11]), tr = ARGV[15]})
if not R then return err end
local op, sid, uid = ARGV[1], ARGV[2], ARGV[3]
local S = ia_session(R, sid)
if not S then return {E_SESSION_NOT_FOUND, sid} end
if S.f.st ~= 'active' then return {E_SESSION_ENDED, S.f.why} end
local who = {uid = ARGV[4], admin = ARGV[5], tutor = ARGV[6], service = ARGV[7]}
local svc = who.service == '1'
local masks = perm_masks(ARGV[8])
local roles = ia_roles(R, S, who, uid)
local l = link_of(redis.call('HGET', S.links, uid))
local denied, to

if op == 'invite' or op == 'apply' then
  denied = ia_deny(masks, op, roles)
  if denied then return denied end
  if op == 'apply' and not svc and uid ~= who.uid then return {E_FORBIDDEN, 'apply', roles} end
  if not ia_known(R, uid) then return {E_USER_NOT_FOUND, uid} end
  local busy = ia_busy(R, uid)
  if busy then return busy end
  if tonumber(S.f.a) >= tonumber(S.f.c) then return {E_SESSION_FULL, S.f.a, S.f.c} end
  if tonumber(S.f.p) >= tonumber(ARGV[14]) then return {E_LIMIT_REACHED, 'pending', S.f.p, ARGV[14]} end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  l = ia_new_link(R, S, uid, 'initiated', op == 'invite' and 'i' or 'a', op == 'invite' and who.uid or uid, op)
else
  if not l then return {E_LINK_NOT_FOUND, uid} end
  if op == 'accept' then to = 'connecting'
  elseif op == 'reject' then to = 'rejected'
  elseif op == 'cancel' then to = 'cancelled'
  elseif op == 'kick' then to = 'kicked'
  elseif op == 'leave' then to = 'left'
  else return {E_BAD_INPUT, 'unknown operation'} end
  local bad = ia_illegal(l.st, to)
  if bad then return bad end
  if op == 'accept' or op == 'reject' then
    -- An invitation is answered by the invitee; an application by whoever may accept or reject.
    if l.o == 'i' then
      if not svc and uid ~= who.uid then return {E_FORBIDDEN, 'respond', roles} end
      denied = ia_deny(masks, 'respond', roles)
    else
      denied = ia_deny(masks, op, roles)
    end
  elseif op == 'cancel' then
    denied = ia_deny(masks, 'cancel', roles)
    if not denied and not svc and l.by ~= who.uid then denied = {E_FORBIDDEN, 'cancel', roles} end
  elseif op == 'kick' then
    denied = ia_deny(masks, 'kick', roles)
    -- The creator is not kicked out of its own session: end it instead.
    if not denied and not svc and uid == S.f.by then denied = {E_FORBIDDEN, 'kick', roles} end
  else
    if not svc and uid ~= who.uid then return {E_FORBIDDEN, 'leave', roles} end
    denied = ia_deny(masks, 'leave', roles)
  end
  if denied then return denied end
  if to == 'connecting' and tonumber(S.f.a) >= tonumber(S.f.c) then return {E_SESSION_FULL, S.f.a, S.f.c} end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  ia_step(R, S, uid, l, to, who.uid, op)
end
local ver = ia_finish(R)
return {OK, ver, S.f.st, l.st, l.g}
