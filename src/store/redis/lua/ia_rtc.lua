-- ia_rtc: an RTC callback (a user joined, is still in, or left a channel),
-- idempotent by event id and tolerant of order: the membership keeps the
-- newest event by RTC time, an older one changes nothing, and link states
-- only move forward, so a 'left' that arrived before its 'joined' never
-- brings the link back (_interaction.lua).
-- KEYS[1] lesson head hash
-- ARGV[1] channel id
-- ARGV[2] uid
-- ARGV[3] event: joined | alive | left
-- ARGV[4] event id
-- ARGV[5] RTC time of the event (ms)
-- ARGV[6] now (ms)
-- ARGV[7] connect timeout (ms), unless the lesson's policy says
-- ARGV[8] max write-behind stream length
-- ARGV[9] ttl (seconds)
-- ARGV[10] event ids a session remembers at most
-- Returns {OK, session id, version or '', outcome, link state or '', the session's version} | {error code, detail...};
-- outcome: applied | duplicate | stale | unlinked | noop | ended. An error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[6]), ttl = ARGV[9], maxStream = ARGV[8], inviteMs = 0, connectMs = tonumber(ARGV[7]), tr = ARGV[11]})
if not R then return err end
local uid, ev, id, at = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local sid = redis.call('HGET', key_ia_channels(R.base), ARGV[1])
local S = sid and ia_session(R, sid)
if not S then return {E_SESSION_NOT_FOUND, ARGV[1]} end
local seen = key_ia_rtc_events(R.base, sid)
local l = link_of(redis.call('HGET', S.links, uid))
local st = l and l.st or ''
if redis.call('SISMEMBER', seen, id) == 1 then return {OK, sid, '', 'duplicate', st, S.f.v} end
local n = redis.call('SCARD', seen)
if n >= tonumber(ARGV[10]) then return {E_LIMIT_REACHED, 'rtc events', n, ARGV[10]} end
local full = stream_full(R.stream, R.maxStream)
if full then return full end

redis.call('SADD', seen, id)
redis.call('EXPIRE', seen, R.ttl)
local rk = key_ia_rtc(R.base, sid)
local prev = redis.call('HGET', rk, uid)
local prevAt = prev and tonumber(string.match(prev, '^[a-z]+:([0-9]+)'))
local outcome = 'noop'
if prevAt and prevAt >= at then
  outcome = 'stale'
else
  -- kind:rtc time:arrival (ms): reconciliation measures its grace from the arrival.
  redis.call('HSET', rk, uid, ev .. ':' .. ARGV[5] .. ':' .. ARGV[6])
  redis.call('EXPIRE', rk, R.ttl)
  if S.f.st ~= 'active' then
    outcome = 'ended'
  elseif ev == 'left' then
    if l and SEATED[l.st] then
      ia_step(R, S, uid, l, 'left', uid, 'rtc_left')
      outcome = 'applied'
    end
  elseif not l or not ACTIVE[l.st] then
    outcome = 'unlinked'
  elseif l.st == 'connecting' then
    ia_step(R, S, uid, l, 'connected', uid, 'rtc_joined')
    outcome = 'applied'
  end
end
local ver = ia_finish(R)
return {OK, sid, ver, outcome, l and l.st or '', S.f.v}
