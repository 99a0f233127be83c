-- wb_restore: put MySQL's value of chosen in-class state keys back into Redis
-- (reconcile --repair --from mysql, after Redis rolled back: a node restarted
-- from an old snapshot, or lost its data). Values come from MySQL, which has
-- them already, so no write-behind record is written. The version counter is
-- raised to at least `min version` (MySQL's newest) so later changes are newer
-- than anything MySQL holds, group seats follow the picks moved, and `lesson`
-- is published so every gateway drops what it cached of the lesson.
-- KEYS[1] the entity's state key: st:group | st:signin | st:mute:<room> | st:mutenode:<room>
-- KEYS[2] st:seats (group picks move seats)
-- KEYS[3] st:ver
-- KEYS[4] the lesson's shard channel
-- ARGV[1] entity: group | signin | mute | mutenode
-- ARGV[2] min version
-- ARGV[3] ttl (seconds)
-- ARGV[4..] pairs: key (uid or node id), value ('' = absent / not muted)
-- Returns {OK, keys changed}

local OK = 0

local e = ARGV[1]
local last = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if last < tonumber(ARGV[2]) then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
local n = 0
for i = 4, #ARGV - 1, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  if e == 'group' or e == 'signin' then
    local old = redis.call('HGET', KEYS[1], k)
    if (old or '') ~= v then
      if e == 'group' then
        if old and old ~= '' then redis.call('HINCRBY', KEYS[2], old, -1) end
        if v ~= '' then redis.call('HINCRBY', KEYS[2], v, 1) end
      end
      if v == '' then redis.call('HDEL', KEYS[1], k) else redis.call('HSET', KEYS[1], k, v) end
      n = n + 1
    end
  elseif e == 'mute' or e == 'mutenode' then
    if v == '' then n = n + redis.call('SREM', KEYS[1], k) else n = n + redis.call('SADD', KEYS[1], k) end
  end
end
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
if n > 0 then redis.call('SPUBLISH', KEYS[4], 'lesson') end
return {OK, n}
