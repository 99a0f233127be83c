-- ia_seat: one mic seat operation of a session, checked and applied
-- atomically (_interaction.lua "Mic seats"): take, leave, move, swap, lock,
-- unlock, mute, unmute, switch (the layout template). Each change writes the
-- changed seats with their ledger records, takes one version and publishes
-- the session's change like every interaction change.
-- KEYS[1] lesson head hash
-- ARGV[1] operation
-- ARGV[2] session id
-- ARGV[3] uid acted on (take, leave, move; '' = the caller)
-- ARGV[4] seat ('' none): take (chosen seat), move (target), swap (first), lock, unlock, mute, unmute
-- ARGV[5] swap: second seat; mute/unmute: mic | cam
-- ARGV[6] caller uid (0: a platform service acting for nobody in particular)
-- ARGV[7] '1' when the caller is admin by its lesson role (teacher)
-- ARGV[8] '1' when the caller is a tutor
-- ARGV[9] '1' when a platform service acts
-- ARGV[10] permission masks (PERMISSION_MASKS)
-- ARGV[11] now (ms)
-- ARGV[12] max write-behind stream length
-- ARGV[13] ttl (seconds)
-- ARGV[14] switch: template id
-- ARGV[15] switch: the template's session kind
-- ARGV[16] switch: the template's seat spec
-- ARGV[17] trace stamp ('' when untraced), stamped on the write-behind records
-- Returns {OK, version or '' (nothing changed), seat or ''} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[11]), ttl = ARGV[13], maxStream = ARGV[12], inviteMs = 0, connectMs = 0, tr = ARGV[17]})
if not R then return err end
local op, sid = ARGV[1], ARGV[2]
local S = ia_session(R, sid)
if not S then return {E_SESSION_NOT_FOUND, sid} end
if S.f.st ~= 'active' then return {E_SESSION_ENDED, S.f.why} end
local who = {uid = ARGV[6], admin = ARGV[7], tutor = ARGV[8], service = ARGV[9]}
local svc = who.service == '1'
local masks = perm_masks(ARGV[10])
local uid = ARGV[3] ~= '' and ARGV[3] or who.uid
local roles = ia_roles(R, S, who, uid)
local n = seat_count(S)

-- A seat argument: nil when absent, else its index (checked against the layout).
local function seat_arg(v)
  if v == '' then return nil, nil end
  local i = tonumber(v)
  if not i or i < 0 or i >= n or i ~= math.floor(i) then return nil, {E_SEAT_NOT_FOUND, v} end
  return i, nil
end

local function done(seat)
  local ver = ia_finish(R)
  return {OK, ver, seat == nil and '' or seat}
end

local denied
if op == 'take' or op == 'move' or op == 'leave' then
  -- One's own seat: 'seat'; someone else's: 'arrange'.
  denied = ia_deny(masks, (uid == who.uid and not svc) and 'seat' or 'arrange', roles)
  if denied then return denied end
  local cur = seat_of(S, uid)
  if op == 'leave' then
    if not cur then return {E_NOT_SEATED, uid} end
    local full = stream_full(R.stream, R.maxStream)
    if full then return full end
    seat_clear(R, S, cur, 'leave', who.uid)
    return done(cur)
  end
  local l = link_of(redis.call('HGET', S.links, uid))
  if not l or not SEATED[l.st] then return {E_NO_SEATED_LINK, uid} end
  local i, bad = seat_arg(ARGV[4])
  if bad then return bad end
  if op == 'move' then
    if not cur then return {E_NOT_SEATED, uid} end
    if not i then return {E_BAD_INPUT, 'seat: move needs the seat to move to'} end
  end
  if not i then
    if cur then return done(cur) end
    i = seat_pick(S, uid)
    if not i then return {E_NO_FREE_SEAT} end
  else
    if i == cur then return done(cur) end
    local q = seat_get(S, i)
    if q.u ~= '0' then return {E_SEAT_TAKEN, i, q.u} end
    if q.l == '1' then return {E_SEAT_LOCKED, i} end
    if not seat_fits(S, i, uid) then return {E_SEAT_HOST_ONLY, i} end
  end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  if cur then seat_clear(R, S, cur, op, who.uid) end
  seat_sit(R, S, i, uid, op, who.uid)
  return done(i)
end

if op == 'swap' then
  denied = ia_deny(masks, 'arrange', roles)
  if denied then return denied end
  local i, bad = seat_arg(ARGV[4])
  if bad then return bad end
  local j, bad2 = seat_arg(ARGV[5])
  if bad2 then return bad2 end
  if not i or not j or i == j then return {E_BAD_INPUT, 'swap needs two different seats'} end
  local a, b = seat_get(S, i), seat_get(S, j)
  if a.u == '0' and b.u == '0' then return {E_SEAT_EMPTY, i} end
  if a.l == '1' then return {E_SEAT_LOCKED, i} end
  if b.l == '1' then return {E_SEAT_LOCKED, j} end
  if b.u ~= '0' and not seat_fits(S, i, b.u) then return {E_SEAT_HOST_ONLY, i} end
  if a.u ~= '0' and not seat_fits(S, j, a.u) then return {E_SEAT_HOST_ONLY, j} end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  if b.u ~= '0' then seat_sit(R, S, i, b.u, 'swap', who.uid) else seat_clear(R, S, i, 'swap', who.uid) end
  if a.u ~= '0' then seat_sit(R, S, j, a.u, 'swap', who.uid) else seat_clear(R, S, j, 'swap', who.uid) end
  return done(i)
end

if op == 'lock' or op == 'unlock' or op == 'mute' or op == 'unmute' then
  denied = ia_deny(masks, (op == 'lock' or op == 'unlock') and 'arrange' or 'mute', roles)
  if denied then return denied end
  local i, bad = seat_arg(ARGV[4])
  if bad then return bad end
  if not i then return {E_BAD_INPUT, 'seat: ' .. op .. ' needs a seat'} end
  local q = seat_get(S, i)
  local field, want
  if op == 'lock' or op == 'unlock' then
    field, want = 'l', op == 'lock' and '1' or '0'
  else
    local media = ARGV[5]
    if media ~= 'mic' and media ~= 'cam' then return {E_BAD_INPUT, 'media: expected mic or cam'} end
    if q.u == '0' then return {E_SEAT_EMPTY, i} end
    field, want = media == 'mic' and 'm' or 'c', op == 'unmute' and '1' or '0'
    if want == '1' then
      local cap = seat_cap(S, i)
      if media == 'mic' and not cap.audio then return {E_SEAT_CAPABILITY, i, 'audio'} end
      if media == 'cam' and not cap.video then return {E_SEAT_CAPABILITY, i, 'video'} end
    end
  end
  if q[field] == want then return done(i) end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  q[field] = want
  seat_put(R, S, i, q, op, who.uid)
  return done(i)
end

if op == 'switch' then
  denied = ia_deny(masks, 'layout', roles)
  if denied then return denied end
  local tp, kind, sp = ARGV[14], ARGV[15], ARGV[16]
  if kind ~= 'duo' and kind ~= 'multi' then return {E_BAD_INPUT, 'kind must be duo or multi'} end
  local n2 = math.floor((#sp + 1) / 5)
  if n2 < 1 or #sp ~= n2 * 5 - 1 then return {E_BAD_INPUT, 'bad seat spec'} end
  for i = 0, n2 - 1 do
    local o = i * 5 + 1
    if not string.match(string.sub(sp, o, o + 3), '^[01][01][01][lr-]$') or (i < n2 - 1 and string.sub(sp, o + 4, o + 4) ~= ',') then
      return {E_BAD_INPUT, 'bad seat spec'}
    end
  end
  -- Who must be seated in the new layout: every seated link; the creator
  -- first, then the others by their seat, then the seatless by uid.
  local seated, seatless = {}, {}
  local flat = redis.call('HGETALL', S.links)
  for k = 1, #flat, 2 do
    if SEATED[link_of(flat[k + 1]).st] then
      local cur = seat_of(S, flat[k])
      if cur then seated[#seated + 1] = {u = flat[k], i = cur, q = seat_get(S, cur)}
      else seatless[#seatless + 1] = {u = flat[k]} end
    end
  end
  if #seated + #seatless > n2 then return {E_SEATS_DO_NOT_FIT, #seated + #seatless, n2} end
  table.sort(seated, function(x, y) return x.i < y.i end)
  table.sort(seatless, function(x, y) return tonumber(x.u) < tonumber(y.u) end)
  local order = {}
  for _, o in ipairs(seated) do if o.u == S.f.by then order[#order + 1] = o end end
  for _, o in ipairs(seatless) do if o.u == S.f.by then order[#order + 1] = o end end
  for _, o in ipairs(seated) do if o.u ~= S.f.by then order[#order + 1] = o end end
  for _, o in ipairs(seatless) do if o.u ~= S.f.by then order[#order + 1] = o end end
  local taken, placed = {}, {}
  local function free_fit(i, u)
    return i >= 0 and i < n2 and not taken[i] and (u == S.f.by or not seat_cap(S, i, sp).host)
  end
  for _, o in ipairs(order) do
    local at = nil
    if o.u == S.f.by then
      -- The host keeps a host-only seat: its own index if that is one, else the first.
      if o.i and o.i < n2 and seat_cap(S, o.i, sp).host and not taken[o.i] then at = o.i end
      for i = 0, n2 - 1 do
        if not at and not taken[i] and seat_cap(S, i, sp).host then at = i end
      end
    end
    if not at and o.i and free_fit(o.i, o.u) then at = o.i end
    for i = 0, n2 - 1 do
      if not at and free_fit(i, o.u) then at = i end
    end
    if not at then return {E_SEATS_DO_NOT_FIT, #order, n2} end
    taken[at] = o
    placed[#placed + 1] = at
  end
  local full = stream_full(R.stream, R.maxStream)
  if full then return full end
  for i = 0, n - 1 do
    redis.call('HDEL', S.key, 'q' .. i)
    S.f['q' .. i] = nil
  end
  local oldSp = S.f.sp
  S.f.tp, S.f.sp, S.f.k, S.f.c = tp, sp, kind, tostring(n2)
  redis.call('HSET', S.key, 'tp', tp, 'sp', sp, 'k', kind, 'c', n2)
  for i = 0, n2 - 1 do
    local o = taken[i]
    if o then
      local cap = seat_cap(S, i)
      -- A muted mic or camera stays muted; one the new seat does not carry is off;
      -- one the old seat did not carry starts on.
      local was = o.q and seat_cap(S, o.i, oldSp)
      local m = (cap.audio and (not was or not was.audio or o.q.m == '1')) and '1' or '0'
      local c = (cap.video and (not was or not was.video or o.q.c == '1')) and '1' or '0'
      seat_put(R, S, i, {u = o.u, l = '0', m = m, c = c}, 'switch', who.uid)
    else
      seat_put(R, S, i, {u = '0', l = '0', m = '0', c = '0'}, 'switch', who.uid)
    end
  end
  return done(nil)
end

return {E_BAD_INPUT, 'unknown seat operation'}
