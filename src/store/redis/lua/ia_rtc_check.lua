-- ia_rtc_check: reconciles RTC membership with link states (CheckChannelStatusTask,
-- CheckUserRecordTimeoutTask): a connected link whose user's last RTC report
-- (joined/alive) arrived more than the grace period ago, or whose last report
-- is 'left', moves to 'left' (with the end rule); users the RTC reports in a
-- channel without an active link are returned.
-- KEYS[1] lesson head hash
-- ARGV[1] now (ms)
-- ARGV[2] grace (ms)
-- ARGV[3] active sessions checked per call at most
-- ARGV[4] max write-behind stream length
-- ARGV[5] ttl (seconds)
-- Returns {OK, links moved, version or '', {session id, uid, ...} of RTC peers without a link} | _head.lua's codes.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[1]), ttl = ARGV[5], maxStream = ARGV[4], inviteMs = 0, connectMs = 0})
if not R then return err end
if stream_full(R.stream, R.maxStream) then return {OK, 0, '', {}} end
local grace = tonumber(ARGV[2])
local moved, strays = 0, {}
for _, sid in ipairs(redis.call('ZRANGE', key_ia_active(R.base), 0, tonumber(ARGV[3]) - 1)) do
  local S = ia_session(R, sid)
  if S and S.f.st == 'active' then
    local rk = key_ia_rtc(R.base, sid)
    local rtc = {}
    local flat = redis.call('HGETALL', rk)
    for i = 1, #flat, 2 do
      local kind, _, arrived = string.match(flat[i + 1], '^([a-z]+):([0-9]+):([0-9]+)$')
      rtc[flat[i]] = {kind = kind, arrived = tonumber(arrived)}
    end
    local links = redis.call('HGETALL', S.links)
    local linked = {}
    for i = 1, #links, 2 do
      local uid, l = links[i], link_of(links[i + 1])
      if ACTIVE[l.st] then linked[uid] = true end
      local m = rtc[uid]
      if l.st == 'connected' and S.f.st == 'active' and (not m or m.kind == 'left' or m.arrived + grace < R.now) then
        ia_step(R, S, uid, l, 'left', '0', 'rtc_lost')
        moved = moved + 1
      end
    end
    for uid, m in pairs(rtc) do
      if m.kind ~= 'left' and not linked[uid] then
        strays[#strays + 1] = sid
        strays[#strays + 1] = uid
      end
    end
  end
end
local ver = ia_finish(R)
return {OK, moved, ver, strays}
