-- read_members: one page of a room partition's members, ordered by join order.
-- The cursor is the last join order seen, so pages stay stable.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] partition
-- ARGV[3] cursor: last score seen ('-inf' to start)
-- ARGV[4] page size
-- Returns {0, version, {uid, score, uid, score, ...}} | {1, status} | {2}
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local key = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':m:' .. ARGV[1] .. ':' .. ARGV[2]
local min = ARGV[3]
if min ~= '-inf' then min = '(' .. min end
return {0, h[1], redis.call('ZRANGEBYSCORE', key, min, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))}
