-- read_node: one org node of the readable version, optionally with its children
-- and its parent, in one round trip.
-- KEYS[1] lesson head hash
-- ARGV[1] node id
-- ARGV[2] '1' to include children
-- ARGV[3] '1' to include the parent
-- Returns {0, version, node blob or false, {child blobs}, parent blob or false} | {1, status} | {2}
local h = redis.call('HMGET', KEYS[1], 'version', 'status')
if not h[1] then
  if h[2] then return {1, h[2]} end
  return {2}
end
local nodes = string.sub(KEYS[1], 1, -5) .. 'v' .. h[1] .. ':nodes'
local blob = redis.call('HGET', nodes, ARGV[1])
local children = {}
local parent = false
if blob then
  local node = cmsgpack.unpack(blob)
  if ARGV[2] == '1' and node.childIds and #node.childIds > 0 then
    children = redis.call('HMGET', nodes, unpack(node.childIds))
  end
  if ARGV[3] == '1' and node.parentId then
    parent = redis.call('HGET', nodes, node.parentId)
  end
end
return {0, h[1], blob, children, parent}
