-- _wb: the write-behind version every stream record carries; scripts.ts inlines
-- this file where a script says "-- @include _wb.lua". Not a script itself.

-- The next write-behind version: strictly increasing per lesson. One INCR on
-- the hot path; when the counter is new (or expired, or lost) it restarts at the
-- server clock in microseconds, which is above every version handed out before
-- as long as a lesson makes fewer than a million changes a second. So the key
-- may expire (ttl after its last restart) without ever breaking the order.
local function next_version(key, ttl)
  local v = redis.call('INCR', key)
  if v == 1 then
    local t = redis.call('TIME')
    v = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', key, string.format('%.0f', v), 'EX', ttl)
  end
  return string.format('%.0f', v)
end

-- Appends a write-behind record (field, value, ...) to a stream. With a trace
-- stamp (the caller's trailing ARGV; nil or '' when untraced) the record also
-- carries it as 'tr', which the flusher logs and links its batch span to.
local function wb_append(stream, tr, ...)
  if not tr or tr == '' then return redis.call('XADD', stream, '*', ...) end
  local f = {...}
  f[#f + 1] = 'tr'
  f[#f + 1] = tr
  return redis.call('XADD', stream, '*', unpack(f))
end
