-- pk_end: ends a scope's running PK round now (before its time runs out) and
-- records its result; the per-side totals are final from here on.
-- KEYS[1] the scope's PK hash (sc:pk:<scope>)
-- KEYS[2] st:ver     last write-behind version
-- KEYS[3] write-behind stream
-- ARGV[1] round id
-- ARGV[2] now (ms)
-- ARGV[3] max stream length (back pressure)
-- ARGV[4] ttl (seconds)
-- ARGV[5] shard channel of the lesson
-- ARGV[6] scope
-- ARGV[7] by: uid of the caller
-- Returns {OK, a, b, pa, pb, start, end, kind, room, version}
-- | {E_PK_ROUND_NOT_FOUND} | {E_PK_ROUND_CLOSED, id, ended at} | {E_BACKPRESSURE, n}; an error writes nothing.
-- Publishes score:<roomId>.
local OK = 0
local E_BACKPRESSURE = 12
local E_PK_ROUND_CLOSED = 15
local E_PK_ROUND_NOT_FOUND = 16
-- @include _wb.lua

local h = redis.call('HMGET', KEYS[1], 'id', 'kind', 'a', 'b', 'room', 'start', 'end', 'status', 'pa', 'pb')
if not h[1] or h[1] ~= ARGV[1] then return {E_PK_ROUND_NOT_FOUND} end
local now = tonumber(ARGV[2])
if h[8] ~= 'run' or now >= tonumber(h[7]) then return {E_PK_ROUND_CLOSED, h[1], h[7]} end
local n = redis.call('XLEN', KEYS[3])
if n >= tonumber(ARGV[3]) then return {E_BACKPRESSURE, n} end

local ver = next_version(KEYS[2], ARGV[4])
local stop = string.format('%.0f', math.max(now, tonumber(h[6])))
redis.call('HSET', KEYS[1], 'end', stop, 'status', 'end')
wb_append(KEYS[3], ARGV[8], 'e', 'pk', 'v', ver, 'id', h[1], 'sc', ARGV[6], 'r', h[5], 'kd', h[2], 'a', h[3], 'b', h[4],
  'st', h[6], 'en', stop, 'x', 'end', 'pa', h[9], 'pb', h[10], 't', ARGV[2], 'by', ARGV[7])
redis.call('SPUBLISH', ARGV[5], 'score:' .. h[5])
return {OK, h[3], h[4], h[9], h[10], h[6], stop, h[2], h[5], ver}
