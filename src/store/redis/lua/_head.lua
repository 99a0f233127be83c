-- _head: the readable version of a lesson; scripts.ts inlines this file where a
-- script says "-- @include _head.lua". Not a script itself.
-- Returns the readable version (string) and the key base of that version
-- ("<prefix>{L<id>}:v<n>:", same hash tag as the head), or nil, nil and the reply
-- for a lesson readers cannot read: {1, head status} not ready, {2} unknown lesson.
local function readable(head)
  local h = redis.call('HMGET', head, 'version', 'status')
  if not h[1] then
    if h[2] then return nil, nil, {1, h[2]} end
    return nil, nil, {2}
  end
  return h[1], string.sub(head, 1, -5) .. 'v' .. h[1] .. ':', nil
end
