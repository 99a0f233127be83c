-- ia_end: End: a session ends and every active link of it goes to 'ended' (_interaction.lua).
-- KEYS[1] lesson head hash
-- ARGV[1] session id
-- ARGV[2] caller uid
-- ARGV[3] '1' when the caller is admin by its lesson role (teacher)
-- ARGV[4] '1' when the caller is a tutor
-- ARGV[5] '1' when a platform service acts
-- ARGV[6] permission masks (PERMISSION_MASKS)
-- ARGV[7] now (ms)
-- ARGV[8] max write-behind stream length
-- ARGV[9] ttl (seconds)
-- Returns {OK, version} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[7]), ttl = ARGV[9], maxStream = ARGV[8], inviteMs = 0, connectMs = 0, tr = ARGV[10]})
if not R then return err end
local S = ia_session(R, ARGV[1])
if not S then return {E_SESSION_NOT_FOUND, ARGV[1]} end
if S.f.st ~= 'active' then return {E_SESSION_ENDED, S.f.why} end
local who = {uid = ARGV[2], admin = ARGV[3], tutor = ARGV[4], service = ARGV[5]}
local denied = ia_deny(perm_masks(ARGV[6]), 'end', ia_roles(R, S, who, nil))
if denied then return denied end
local full = stream_full(R.stream, R.maxStream)
if full then return full end
ia_end(R, S, 'ended', who.uid)
return {OK, ia_finish(R)}
