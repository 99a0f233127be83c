-- read_node_view: one org node with its children and its ancestors (root first),
-- so parent, path and source node all come from one round trip. Nodes created or
-- changed in class (st:dyn) override the preloaded ones, and a team's children
-- are its preloaded childIds followed by the groups created in class under it
-- (st:dynkids, creation order).
-- KEYS[1] lesson head hash
-- ARGV[1] node id
-- Returns {OK, version, node blob or false, {child blobs}, {ancestor blobs, root first},
--          msgpack array of child ids created in class or false} | _head.lua's codes
-- @include _head.lua
local version, vb, unreadable = readable(KEYS[1])
if unreadable then return unreadable end
local base = lesson_base(KEYS[1])
local nodes = key_nodes(vb)
local dyn = key_state_dyn(base)
local function many(ids)
  if #ids == 0 then return {} end
  local a = redis.call('HMGET', dyn, unpack(ids))
  local b = redis.call('HMGET', nodes, unpack(ids))
  local out = {}
  for i = 1, #ids do
    out[i] = a[i] or b[i]
  end
  return out
end
local blob = many({ARGV[1]})[1]
if not blob then return {OK, version, false, {}, {}, false} end
local node = cmsgpack.unpack(blob)
local ids = {}
for i, id in ipairs(node.childIds or {}) do ids[i] = id end
local extra = redis.call('HGET', key_state_dyn_kids(base), ARGV[1])
if extra then
  for _, id in ipairs(cmsgpack.unpack(extra)) do ids[#ids + 1] = id end
end
local children = many(ids)
local up = {}
for part in string.gmatch(node.path, '[^/]+') do up[#up + 1] = part end
up[#up] = nil
return {OK, version, blob, children, many(up), extra or false}
