-- _head: the readable version of a lesson; scripts.ts inlines this file where a
-- script says "-- @include _head.lua". Not a script itself.
--
-- Return codes every script that reads the readable version shares, as the first
-- element of its reply (src/store/redis/replyCodes.ts HEAD_CODES):
local OK = 0
local E_LESSON_NOT_READY = 1    -- {1, head status}: a preload is running or failed
local E_LESSON_NOT_FOUND = 2    -- {2}: never preloaded here
-- @include _keys.lua

-- The readable version (string) and the key base of that version
-- ("<prefix>{L<id>}:v<n>:", same hash tag as the head), or nil, nil and the reply
-- for a lesson readers cannot read. With `field`, the head's value of that field
-- comes fourth (false when unset), read in the same HMGET.
local function readable(head, field)
  local h
  if field then h = redis.call('HMGET', head, 'version', 'status', field) else h = redis.call('HMGET', head, 'version', 'status') end
  if not h[1] then
    if h[2] then return nil, nil, {E_LESSON_NOT_READY, h[2]} end
    return nil, nil, {E_LESSON_NOT_FOUND}
  end
  return h[1], version_base_of(lesson_base(head), h[1]), nil, h[3] or false
end
