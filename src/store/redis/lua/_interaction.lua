-- _interaction: the interaction center's state machine in Redis, shared by the
-- ia_*.lua scripts; scripts.ts inlines this file where a script says
-- "-- @include _interaction.lua". Not a script itself. The same rules, pure, are
-- src/model/interaction.ts; a unit test compares the tables below with it.
--
-- A session is a hash (LessonKeys.iaSession): r room, k kind, c capacity, ch
-- channel, by creator, st active|ended, why end reason, at created, et ended,
-- v version, n ledger events, a seated links, p pending links, tp layout
-- template id, sp seat spec (model/seats.ts encodeSpec: per seat
-- "<video><audio><hostOnly><side>", comma-separated), q<i> seat i's state
-- "uid|locked|mic|cam" (absent: empty), qn seat events. Its links are
-- one hash (LessonKeys.iaLinks) uid -> "state|origin|by|generation|updatedAt".
-- Every change of a session takes one write-behind version (strictly
-- increasing per lesson), stores it as the session's and its room's version,
-- appends a record per changed link, per ledger event and for the session, and
-- publishes "ia:<room>:<session>:<version>" on the lesson channel.
--
-- Return codes beyond _mutation.lua's (replyCodes.ts INTERACTION_CODES):
-- @include _mutation.lua
local E_USER_NOT_FOUND = 20
local E_SESSION_NOT_FOUND = 21
local E_LINK_NOT_FOUND = 22
local E_INVALID_TRANSITION = 23 -- {23, from, to}
local E_USER_BUSY = 24          -- {24, uid, session id}
local E_SESSION_FULL = 25       -- {25, seated, capacity}
local E_SESSION_ENDED = 26      -- {26, end reason}
local E_FORBIDDEN = 27          -- {27, permission, roles mask}
local E_CHANNEL_IN_USE = 28     -- {28, session id}
local E_LIMIT_REACHED = 29      -- {29, what, count, max}
local E_BAD_INPUT = 30          -- {30, message}
-- Mic seats (lua/ia_seat.lua; a seat number is its 0-based index in the layout).
local E_SEAT_NOT_FOUND = 31     -- {31, seat}
local E_SEAT_TAKEN = 32         -- {32, seat, occupant uid}
local E_SEAT_LOCKED = 33        -- {33, seat}
local E_SEAT_HOST_ONLY = 34     -- {34, seat}
local E_SEAT_CAPABILITY = 35    -- {35, seat, audio|video}
local E_NO_FREE_SEAT = 36       -- {36}
local E_NO_SEATED_LINK = 37     -- {37, uid}
local E_NOT_SEATED = 38         -- {38, uid}
local E_SEATS_DO_NOT_FIT = 39   -- {39, occupants, seats}
local E_SEAT_EMPTY = 40         -- {40, seat}

-- The one-way link state machine (model/interaction.ts TRANSITIONS).
local NEXT = {
  initiated = {connecting = true, cancelled = true, rejected = true, timed_out = true, ended = true},
  connecting = {connected = true, connect_timed_out = true, left = true, kicked = true, ended = true},
  connected = {left = true, kicked = true, ended = true},
}
-- ACTIVE_STATES and SEATED_STATES.
local ACTIVE = {initiated = true, connecting = true, connected = true}
local SEATED = {connecting = true, connected = true}
-- ROLE_BITS.
local R_INITIATOR, R_PARTICIPANT, R_ADMIN, R_AUDIENCE = 1, 2, 4, 8
-- PERMISSIONS, in the order of the masks a script is given (PERMISSION_MASKS).
local PERMS = {'invite', 'accept', 'reject', 'kick', 'end', 'apply', 'cancel', 'leave', 'respond', 'seat', 'arrange', 'mute', 'layout'}

-- The permission masks "m1,m2,..." -> {invite = m1, ...}.
local function perm_masks(text)
  local out, i = {}, 1
  for m in string.gmatch(text, '[0-9]+') do
    out[PERMS[i]] = tonumber(m)
    i = i + 1
  end
  return out
end

-- A link string -> table, or nil.
local function link_of(v)
  if not v then return nil end
  local st, o, by, g, u = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return {st = st, o = o, by = by, g = tonumber(g), u = u}
end

-- A run of one script over one lesson: what every helper below needs.
-- a: ARGV-derived settings {now, ttl, maxStream, inviteMs, connectMs, tr = trace stamp or nil}.
local function ia_run(head, a)
  local vb, err = version_base(head)
  if not vb then return nil, err end
  local base = lesson_base(head)
  -- The lesson policy's timeouts (written by the preload), else the global ones.
  local pol = redis.call('HMGET', key_lesson(vb), 'iaInviteMs', 'iaConnectMs')
  return {
    head = head, vb = vb, base = base, now = a.now, ttl = a.ttl, maxStream = a.maxStream,
    inviteMs = tonumber(pol[1]) or a.inviteMs, connectMs = tonumber(pol[2]) or a.connectMs,
    stream = key_wb(base), ver = nil, touched = {}, out = {}, tr = a.tr,
  }, nil
end

-- The version this run writes with (taken once, on the first change).
local function ia_version(R)
  if not R.ver then R.ver = next_version(key_state_ver(R.base), R.ttl) end
  return R.ver
end

-- A session of the run, loaded once: {id, key, links, f = fields}, or nil.
local function ia_session(R, sid)
  local S = R.touched[sid]
  if S then return S end
  local key = key_ia_session(R.base, sid)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  S = {id = sid, key = key, links = key_ia_links(R.base, sid), f = f, changed = false}
  R.touched[sid] = S
  return S
end

-- Whether a uid is someone of the lesson: its teacher, a student with a
-- position, or a tutor (its org node or one of its rooms).
local function ia_known(R, uid)
  if not string.match(uid, '^[1-9][0-9]*$') then return false end
  if redis.call('HGET', key_lesson(R.vb), 'teacherUid') == uid then return true end
  if position(R.vb, redis.call('HGET', key_lesson(R.vb), 'posBuckets'), uid) then return true end
  local tutor = 't' .. uid
  if redis.call('HEXISTS', key_nodes(R.vb), tutor) == 1 then return true end
  local rooms = key_rooms(R.vb)
  return redis.call('HEXISTS', rooms, tutor .. '.in') == 1 or redis.call('HEXISTS', rooms, tutor .. '.before') == 1
    or redis.call('HEXISTS', rooms, tutor .. '.after') == 1
end

-- Whether student `uid` is under tutor `tutor` (node t<tutor> on its node's path).
local function ia_tutor_of(R, tutor, uid)
  local pos = position(R.vb, redis.call('HGET', key_lesson(R.vb), 'posBuckets'), uid)
  if not pos then return false end
  local nb = redis.call('HGET', key_nodes(R.vb), pos.n)
  if not nb then return false end
  local want = 't' .. tutor
  for part in string.gmatch(cmsgpack.unpack(nb).path, '[^/]+') do
    if part == want then return true end
  end
  return false
end

-- The caller's roles in session S as a bit mask. who: {uid, admin '1' (teacher),
-- tutor '1', service '1'}; target: the user acted on (a tutor is admin over its
-- own students), or nil.
local function ia_roles(R, S, who, target)
  if who.service == '1' then return R_INITIATOR + R_PARTICIPANT + R_ADMIN + R_AUDIENCE end
  local m = R_AUDIENCE
  if S and S.f.by == who.uid then m = m + R_INITIATOR end
  if S then
    local l = link_of(redis.call('HGET', S.links, who.uid))
    if l and SEATED[l.st] then m = m + R_PARTICIPANT end
  end
  local room = S and S.f.r or who.room
  local admin = who.admin == '1' or redis.call('SISMEMBER', key_ia_admins(R.base, room), who.uid) == 1
  if not admin and who.tutor == '1' then
    local rb = redis.call('HGET', key_rooms(R.vb), room)
    admin = (rb and string.format('%.0f', cmsgpack.unpack(rb).teacherUid or 0) == who.uid) or (target ~= nil and ia_tutor_of(R, who.uid, target))
  end
  if admin then m = m + R_ADMIN end
  return m
end

-- nil when the caller's roles hold permission p, else the FORBIDDEN reply.
local function ia_deny(masks, p, roles)
  if bit.band(masks[p] or 0, roles) ~= 0 then return nil end
  return {E_FORBIDDEN, p, roles}
end

-- nil when uid may take a new active link, else the USER_BUSY reply.
local function ia_busy(R, uid)
  local sid = redis.call('HGET', key_ia_busy(R.base), uid)
  if sid then return {E_USER_BUSY, uid, sid} end
  return nil
end

-- The reply refusing a transition the state machine does not allow, or nil.
local function ia_illegal(from, to)
  if NEXT[from] and NEXT[from][to] then return nil end
  return {E_INVALID_TRANSITION, from, to}
end

-- Appends one ledger event of session S (from '' for a new link).
local function ia_ledger(R, S, uid, g, from, to, by, cause)
  local n = redis.call('HINCRBY', S.key, 'n', 1)
  S.f.n = tostring(n)
  wb_append(R.stream, R.tr, 'e', 'ilev', 'v', ia_version(R), 's', S.id, 'n', n, 'u', uid, 'g', g, 'f', from, 'to', to,
    'b', by, 'why', cause, 't', R.now)
end

-- Writes link l of uid (its hash entry and its write-behind record).
local function ia_put_link(R, S, uid, l)
  redis.call('HSET', S.links, uid, l.st .. '|' .. l.o .. '|' .. l.by .. '|' .. l.g .. '|' .. l.u)
  wb_append(R.stream, R.tr, 'e', 'ilink', 'v', ia_version(R), 's', S.id, 'u', uid, 'g', l.g, 'st', l.st, 'o', l.o, 'b', l.by, 't', l.u)
end

-- Counter field of S moved by d (seated 'a', pending 'p').
local function ia_count(S, field, d)
  S.f[field] = tostring(redis.call('HINCRBY', S.key, field, d))
end

-- ---- Mic seats ----
-- Seats in the session's layout (0: a session without one).
local function seat_count(S)
  local sp = S.f.sp
  if not sp or sp == '' then return 0 end
  return math.floor((#sp + 1) / 5)
end

-- Capabilities of seat i (0-based) under spec sp (the session's by default).
local function seat_cap(S, i, sp)
  local o = i * 5 + 1
  sp = sp or S.f.sp
  return {video = string.sub(sp, o, o) == '1', audio = string.sub(sp, o + 1, o + 1) == '1', host = string.sub(sp, o + 2, o + 2) == '1'}
end

-- Seat i's state {u = uid or '0', l = locked, m = mic on, c = cam on}.
local function seat_get(S, i)
  local u, l, m, c = string.match(S.f['q' .. i] or '', '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not u then return {u = '0', l = '0', m = '0', c = '0'} end
  return {u = u, l = l, m = m, c = c}
end

-- The seat uid sits on, or nil.
local function seat_of(S, uid)
  for i = 0, seat_count(S) - 1 do
    if seat_get(S, i).u == uid then return i end
  end
  return nil
end

-- Writes seat i's state with its ledger record (op: what changed it).
local function seat_put(R, S, i, q, op, by)
  local v = q.u .. '|' .. q.l .. '|' .. q.m .. '|' .. q.c
  local n = (tonumber(S.f.qn) or 0) + 1
  S.f['q' .. i], S.f.qn = v, tostring(n)
  redis.call('HSET', S.key, 'q' .. i, v, 'qn', n)
  wb_append(R.stream, R.tr, 'e', 'iseat', 'v', ia_version(R), 's', S.id, 'n', n, 'q', i, 'u', q.u, 'l', q.l, 'm', q.m, 'c', q.c,
    'op', op, 'b', by, 't', R.now)
  S.changed = true
end

-- Whether uid may sit on seat i (a host-only seat is the creator's).
local function seat_fits(S, i, uid)
  return uid == S.f.by or not seat_cap(S, i).host
end

-- The seat a link of uid gets when none is chosen: the creator the first free
-- unlocked host-only seat, else (everyone) the first free unlocked seat it fits; nil: none.
local function seat_pick(S, uid)
  local n = seat_count(S)
  if uid == S.f.by then
    for i = 0, n - 1 do
      local q = seat_get(S, i)
      if q.u == '0' and q.l ~= '1' and seat_cap(S, i).host then return i end
    end
  end
  for i = 0, n - 1 do
    local q = seat_get(S, i)
    if q.u == '0' and q.l ~= '1' and seat_fits(S, i, uid) then return i end
  end
  return nil
end

-- uid sits on seat i: its mic and camera on where the seat carries them.
local function seat_sit(R, S, i, uid, op, by)
  local cap = seat_cap(S, i)
  seat_put(R, S, i, {u = uid, l = seat_get(S, i).l, m = cap.audio and '1' or '0', c = cap.video and '1' or '0'}, op, by)
end

-- Seat i becomes empty (its lock stays).
local function seat_clear(R, S, i, op, by)
  seat_put(R, S, i, {u = '0', l = seat_get(S, i).l, m = '0', c = '0'}, op, by)
end

-- Keeps the deadline of a link in step with its new state.
local function ia_deadline(R, S, uid, st)
  local member = S.id .. '|' .. uid
  if st == 'initiated' then
    redis.call('ZADD', key_ia_deadlines(R.base), R.now + R.inviteMs, member)
  elseif st == 'connecting' then
    redis.call('ZADD', key_ia_deadlines(R.base), R.now + R.connectMs, member)
  else
    redis.call('ZREM', key_ia_deadlines(R.base), member)
  end
end

-- Creates a link of uid in S at state st ('initiated', or 'connecting' for the creator).
-- The caller checked busy, capacity and bounds.
local function ia_new_link(R, S, uid, st, origin, by, cause)
  local old = link_of(redis.call('HGET', S.links, uid))
  local l = {st = st, o = origin, by = by, g = old and old.g + 1 or 1, u = R.now}
  ia_put_link(R, S, uid, l)
  redis.call('HSET', key_ia_busy(R.base), uid, S.id)
  if SEATED[st] then ia_count(S, 'a', 1) else ia_count(S, 'p', 1) end
  -- A seated link gets a seat if one is free.
  if SEATED[st] and seat_count(S) > 0 then
    local i = seat_pick(S, uid)
    if i then seat_sit(R, S, i, uid, 'auto', by) end
  end
  ia_deadline(R, S, uid, st)
  ia_ledger(R, S, uid, l.g, '', st, by, cause)
  S.changed = true
  return l
end

-- Moves link l of uid to state `to` (allowed: checked by the caller).
local function ia_move(R, S, uid, l, to, by, cause)
  local from = l.st
  l.st, l.u = to, R.now
  ia_put_link(R, S, uid, l)
  if ACTIVE[from] and not ACTIVE[to] and redis.call('HGET', key_ia_busy(R.base), uid) == S.id then
    redis.call('HDEL', key_ia_busy(R.base), uid)
  end
  if SEATED[from] and not SEATED[to] then ia_count(S, 'a', -1) end
  if not SEATED[from] and SEATED[to] then ia_count(S, 'a', 1) end
  if from == 'initiated' then ia_count(S, 'p', -1) end
  -- Seats follow the link: becoming seated takes a free seat (if any), leaving frees it.
  if seat_count(S) > 0 then
    if SEATED[to] and not SEATED[from] and not seat_of(S, uid) then
      local i = seat_pick(S, uid)
      if i then seat_sit(R, S, i, uid, 'auto', by) end
    elseif SEATED[from] and not SEATED[to] then
      local i = seat_of(S, uid)
      if i then seat_clear(R, S, i, to == 'ended' and 'end' or 'free', by) end
    end
  end
  ia_deadline(R, S, uid, to)
  ia_ledger(R, S, uid, l.g, from, to, by, cause)
  S.changed = true
end

-- Ends session S: every active link goes to 'ended'.
local function ia_end(R, S, reason, by)
  local flat = redis.call('HGETALL', S.links)
  for i = 1, #flat, 2 do
    local l = link_of(flat[i + 1])
    if ACTIVE[l.st] then ia_move(R, S, flat[i], l, 'ended', by, reason) end
  end
  S.f.st, S.f.why, S.f.et = 'ended', reason, tostring(R.now)
  redis.call('HSET', S.key, 'st', 'ended', 'why', reason, 'et', R.now)
  redis.call('ZREM', key_ia_room(R.base, S.f.r), S.id)
  redis.call('ZREM', key_ia_active(R.base), S.id)
  S.changed = true
end

-- The end rule (model/interaction.ts endsSession) after link of uid left the
-- active states: a duo ends when either side goes; a multi when its creator
-- goes, or a seated link went and nobody is seated any more.
local function ia_end_rule(R, S, uid, wasSeated, by)
  if S.f.st ~= 'active' then return end
  local reason = nil
  if uid == S.f.by then
    reason = 'creator_left'
  elseif S.f.k == 'duo' then
    reason = 'peer_left'
  elseif wasSeated and tonumber(S.f.a) == 0 then
    reason = 'last_left'
  end
  if reason then ia_end(R, S, reason, by) end
end

-- Moves link l of uid to `to` and applies the end rule when it stopped being active.
local function ia_step(R, S, uid, l, to, by, cause)
  local wasActive, wasSeated = ACTIVE[l.st], SEATED[l.st]
  ia_move(R, S, uid, l, to, by, cause)
  if wasActive and not ACTIVE[to] then ia_end_rule(R, S, uid, wasSeated, by) end
end

-- Sets the expiry of a new session's keys and renews the lesson-wide ones
-- (each new session renews them, so they outlive every session in them).
local function ia_expire_new(R, S)
  for _, k in ipairs({S.key, S.links, key_ia_room(R.base, S.f.r), key_ia_busy(R.base), key_ia_deadlines(R.base), key_ia_active(R.base),
      key_ia_channels(R.base), key_ia_room_version(R.base), key_ia_seq(R.base)}) do
    redis.call('EXPIRE', k, R.ttl)
  end
end

-- Writes what changed: each changed session's version, record and room
-- version; publishes one message per changed session. Returns the version ('' if
-- nothing changed). Expiry is set where keys are made (ia_expire_new), not on
-- every change: a session lives minutes, the ttl is days.
local function ia_finish(R)
  if not R.ver then return '' end
  local ver = R.ver
  local rv = key_ia_room_version(R.base)
  for sid, S in pairs(R.touched) do
    if S.changed then
      local f = S.f
      f.v = ver
      redis.call('HSET', S.key, 'v', ver)
      redis.call('HSET', rv, f.r, ver)
      wb_append(R.stream, R.tr, 'e', 'isess', 'v', ver, 's', sid, 'r', f.r, 'k', f.k, 'c', f.c, 'ch', f.ch, 'u', f.by,
        'st', f.st, 'why', f.why or '', 'at', f.at, 'et', f.et or '', 'tp', f.tp or '')
      redis.call('SPUBLISH', key_channel(R.base), 'ia:' .. f.r .. ':' .. sid .. ':' .. ver)
    end
  end
  return ver
end
