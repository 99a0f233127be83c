-- ia_expire: applies the due deadlines of a lesson (CheckLinkTimeoutTask):
-- initiated -> timed_out, connecting -> connect_timed_out, each with the end
-- rule; a deadline whose link moved on meanwhile is just dropped. Idempotent:
-- running it twice, or from two checkers, applies each deadline once.
-- KEYS[1] lesson head hash
-- ARGV[1] now (ms)
-- ARGV[2] deadlines handled per call at most
-- ARGV[3] max write-behind stream length
-- ARGV[4] ttl (seconds)
-- Returns {OK, links timed out, version or '', deadlines still due} | _head.lua's codes.
-- Back pressure (a full stream) times nothing out and reports every due deadline as still due.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[1]), ttl = ARGV[4], maxStream = ARGV[3], inviteMs = 0, connectMs = 0})
if not R then return err end
local dl = key_ia_deadlines(R.base)
if stream_full(R.stream, R.maxStream) then return {OK, 0, '', redis.call('ZCOUNT', dl, '-inf', R.now)} end
local due = redis.call('ZRANGEBYSCORE', dl, '-inf', R.now, 'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
for _, member in ipairs(due) do
  local sid, uid = string.match(member, '^([^|]+)|(.+)$')
  local S = sid and ia_session(R, sid)
  local l = S and link_of(redis.call('HGET', S.links, uid))
  if l and l.st == 'initiated' then
    ia_step(R, S, uid, l, 'timed_out', '0', 'timeout')
    moved = moved + 1
  elseif l and l.st == 'connecting' then
    ia_step(R, S, uid, l, 'connect_timed_out', '0', 'timeout')
    moved = moved + 1
  else
    redis.call('ZREM', dl, member)
  end
end
local ver = ia_finish(R)
return {OK, moved, ver, redis.call('ZCOUNT', dl, '-inf', R.now)}
