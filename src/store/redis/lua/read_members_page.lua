-- read_members_page: one page of a room's members in join order, continuing
-- across the room's partitions (all in this lesson's slot) until the page is full.
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] partition to start in
-- ARGV[3] last join order seen in that partition ('-inf' to start at its beginning)
-- ARGV[4] page size
-- ARGV[5] '1' to stay in the start partition, '0' to continue into later ones
-- Returns {OK, version, partitions, {uid, order, partition, ...}, more 0|1}
--   | {E_ROOM_NOT_FOUND, version} | _head.lua's codes
-- @include _head.lua
local E_ROOM_NOT_FOUND = 3
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local blob = redis.call('HGET', key_rooms(vb), ARGV[1])
if not blob then return {E_ROOM_NOT_FOUND, version} end
local partitions = tonumber(cmsgpack.unpack(blob).partitions) or 0
local p = tonumber(ARGV[2])
local min = ARGV[3]
if min ~= '-inf' then min = '(' .. min end
local want = tonumber(ARGV[4])
local last = p
if ARGV[5] ~= '1' then last = partitions - 1 end
local out = {}
local n = 0
while p <= last and n < want do
  local got = redis.call('ZRANGEBYSCORE', key_members(vb, ARGV[1], p), min, '+inf', 'WITHSCORES', 'LIMIT', 0, want - n)
  for i = 1, #got, 2 do
    out[#out + 1] = got[i]
    out[#out + 1] = got[i + 1]
    out[#out + 1] = p
    n = n + 1
  end
  if n < want then
    p = p + 1
    min = '-inf'
  end
end
local more = 0
if n >= want then
  -- Full page: there is more unless this was the last member of the last partition.
  local lastOrder = out[#out - 1]
  local lastPart = out[#out]
  if lastPart < last or redis.call('ZCOUNT', key_members(vb, ARGV[1], lastPart), '(' .. lastOrder, '+inf') > 0 then more = 1 end
end
return {OK, version, partitions, out, more}
