-- ws_presence: a gateway's WebSocket members of one lesson are online now. One
-- call per lesson per presence interval (not per socket): each listed member
-- goes into its room partition's online zset with score = now (ZADD GT: a
-- gateway with a slower clock never moves last-seen back), members older than
-- the online window are trimmed from each partition written, and each written
-- partition's expiry is renewed.
-- Writes no write-behind record: MySQL's state_online keeps the HTTP heartbeats;
-- a WebSocket member is online for as long as its connection is, which only
-- the gateways know.
-- KEYS[1] lesson head hash (names the lesson's slot; the online keys are built from it)
-- ARGV[1] now (ms)
-- ARGV[2] online window (ms)
-- ARGV[3] ttl (seconds) of the online keys
-- ARGV[4..] groups: room id, partition, n, then n uids
-- Returns the number of members written.
-- @include _keys.lua

local base = lesson_base(KEYS[1])
local now, window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cutoff = '(' .. string.format('%.0f', now - window)
local i, written = 4, 0
while i <= #ARGV do
  local key = key_state_online(base, ARGV[i], tonumber(ARGV[i + 1]))
  local n = tonumber(ARGV[i + 2])
  local args = {}
  for j = 1, n do
    args[#args + 1] = now
    args[#args + 1] = ARGV[i + 2 + j]
  end
  if n > 0 then
    -- ZADD takes at most a few thousand pairs comfortably; unpack limits apply to larger groups.
    for k = 1, #args, 1000 do
      redis.call('ZADD', key, 'GT', unpack(args, k, math.min(k + 999, #args)))
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
    redis.call('EXPIRE', key, ttl)
    written = written + n
  end
  i = i + 3 + n
end
return written
