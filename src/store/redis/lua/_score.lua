-- _score: helpers shared by the score scripts (award, PK rounds, score reads);
-- scripts.ts inlines this file where a script says "-- @include _score.lua".
-- Not a script itself.
--
-- Return codes: _mutation.lua's, and these (src/store/redis/replyCodes.ts
-- SCORE_CODES names each and turns it into a typed error, in one place):
-- @include _mutation.lua
local E_PK_ROUND_RUNNING = 14    -- {14, round id, ends at}: one round at a time per scope
local E_PK_ROUND_CLOSED = 15     -- {15, round id, ended at}: the round named has ended
local E_PK_ROUND_NOT_FOUND = 16  -- {16}: no such round in the scope
local E_PK_SIDES_INVALID = 17    -- {17, why}: the two sides overlap (one node under the other)

-- An org node's path (its precomputed ancestors), or nil when neither the
-- readable version nor the groups created in class have the node. The
-- preload's paths hash answers without decoding a node (a decode costs far
-- more than the read); groups created in class, and versions preloaded before
-- the paths hash existed, are decoded.
local function node_path(vb, base, id)
  local p = redis.call('HGET', key_paths(vb), id)
  if p then return p end
  local blob = node_blob(vb, key_state_dyn(base), id)
  if not blob then return nil end
  return cmsgpack.unpack(blob).path
end

-- True when `path` is node `id` or below it ("/root/t9/t9.m1" is under "t9").
local function path_under(path, id)
  return string.find(path .. '/', '/' .. id .. '/', 1, true) ~= nil
end

-- The running round of a PK hash as {id, kind, a, b, start, end}, or nil: a
-- round runs from its start (inclusive) to its end (exclusive) unless ended early.
local function running_round(pk, now)
  local h = redis.call('HMGET', pk, 'id', 'kind', 'a', 'b', 'start', 'end', 'status')
  if not h[1] or h[7] ~= 'run' then return nil, h end
  local t = tonumber(now)
  if t < tonumber(h[5]) or t >= tonumber(h[6]) then return nil, h end
  return h, h
end
