-- wb_rejournal: append a fresh write-behind record carrying the current Redis
-- value of each given entity key (reconcile --repair). The new version is above
-- `min version` (the highest MySQL holds for the lesson), so the guarded upsert
-- applies it even if the version counter was lost.
-- KEYS[1] the entity's state key: st:group | st:signin | st:mute:<room> | st:mutenode:<room> | st:on:<room>:<p> | st:dyn
-- KEYS[2] st:ver
-- KEYS[3] write-behind stream
-- ARGV[1] entity: group | signin | mute | mutenode | online | node
-- ARGV[2] now (ms)
-- ARGV[3] min version
-- ARGV[4] max stream length (back pressure)
-- ARGV[5] ttl (seconds)
-- ARGV[6] room id ('' when the entity has none)
-- ARGV[7] partition ('' unless online)
-- ARGV[8..] uids or node ids
-- Returns {OK, records written} | {E_BACKPRESSURE, stream length} (_mutation.lua)
-- @include _mutation.lua

local full = stream_full(KEYS[3], ARGV[4])
if full then return full end
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if last < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[5]) end
local ver = next_version(KEYS[2], ARGV[5])
local e, now, room = ARGV[1], ARGV[2], ARGV[6]
local n = 0
for i = 8, #ARGV do
  local k = ARGV[i]
  if e == 'group' then
    redis.call('XADD', KEYS[3], '*', 'e', e, 'v', ver, 'u', k, 'g', redis.call('HGET', KEYS[1], k) or '', 't', now)
    n = n + 1
  elseif e == 'signin' then
    redis.call('XADD', KEYS[3], '*', 'e', e, 'v', ver, 'u', k, 't', redis.call('HGET', KEYS[1], k) or '')
    n = n + 1
  elseif e == 'mute' or e == 'mutenode' then
    local f = e == 'mute' and 'u' or 'n'
    redis.call('XADD', KEYS[3], '*', 'e', e, 'v', ver, 'r', room, f, k, 'm', tostring(redis.call('SISMEMBER', KEYS[1], k)), 't', now)
    n = n + 1
  elseif e == 'online' then
    local s = redis.call('ZSCORE', KEYS[1], k)
    if s then
      redis.call('XADD', KEYS[3], '*', 'e', e, 'v', ver, 'r', room, 'u', k, 'p', ARGV[7], 't', s)
      n = n + 1
    end
  elseif e == 'node' then
    local b = redis.call('HGET', KEYS[1], k)
    if b then
      local g = cmsgpack.unpack(b)
      redis.call('XADD', KEYS[3], '*', 'e', e, 'v', ver, 'n', k, 'p', g.parentId, 'c', g.capacity, 'path', g.path, 'd', g.depth, 't', now)
      n = n + 1
    end
  end
end
return {OK, n}
