-- ia_rejournal: writes the current Redis state of some sessions (the session
-- and every link) as fresh write-behind records under a new version, for
-- reconcile's repair: the version is newer than anything MySQL holds, so the
-- guarded upserts take it (_interaction.lua). The link ledger is not rewritten:
-- Redis keeps no copy of it; each mic seat gets one more seat ledger record
-- (op 'repair') with its current state.
-- KEYS[1] lesson head hash
-- ARGV[1] now (ms)
-- ARGV[2] max write-behind stream length
-- ARGV[3] ttl (seconds)
-- ARGV[4..] session ids
-- Returns {OK, sessions re-journaled, version or ''} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[1]), ttl = ARGV[3], maxStream = ARGV[2], inviteMs = 0, connectMs = 0})
if not R then return err end
local full = stream_full(R.stream, R.maxStream)
if full then return full end
local n = 0
for i = 4, #ARGV do
  local S = ia_session(R, ARGV[i])
  if S then
    local flat = redis.call('HGETALL', S.links)
    for j = 1, #flat, 2 do ia_put_link(R, S, flat[j], link_of(flat[j + 1])) end
    -- Each seat's current state as a fresh seat ledger record: replaying the ledger gives the seats again.
    for q = 0, seat_count(S) - 1 do seat_put(R, S, q, seat_get(S, q), 'repair', '0') end
    ia_version(R)
    S.changed = true
    n = n + 1
  end
end
return {OK, n, ia_finish(R)}
