-- wb_forget: remove a lesson from the flusher registry only if nobody has
-- re-registered it since the flusher looked (same score).
-- KEYS[1] registry sorted set
-- ARGV[1] lesson id
-- ARGV[2] score the flusher saw
-- Returns 1 if removed, 0 otherwise
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
