-- ia_admin: grants or revokes a user's admin role in one room's interactions,
-- with its write-behind record (MySQL keeps the grants; Redis serves them).
-- KEYS[1] lesson head hash
-- ARGV[1] room id
-- ARGV[2] uid
-- ARGV[3] '1' grant, '0' revoke
-- ARGV[4] now (ms)
-- ARGV[5] max write-behind stream length
-- ARGV[6] ttl (seconds)
-- Returns {OK, changed 0|1, version or ''} | {error code, detail...}; an error writes nothing.
-- @include _interaction.lua

local R, err = ia_run(KEYS[1], {now = tonumber(ARGV[4]), ttl = ARGV[6], maxStream = ARGV[5], inviteMs = 0, connectMs = 0, tr = ARGV[7]})
if not R then return err end
local room, uid, on = ARGV[1], ARGV[2], ARGV[3] == '1'
if redis.call('HEXISTS', key_rooms(R.vb), room) == 0 then return {E_ROOM_NOT_FOUND} end
if not ia_known(R, uid) then return {E_USER_NOT_FOUND, uid} end
local set = key_ia_admins(R.base, room)
if (redis.call('SISMEMBER', set, uid) == 1) == on then return {OK, 0, ''} end
local full = stream_full(R.stream, R.maxStream)
if full then return full end
local ver = ia_version(R)
if on then redis.call('SADD', set, uid) else redis.call('SREM', set, uid) end
redis.call('EXPIRE', set, R.ttl)
wb_append(R.stream, R.tr, 'e', 'iadmin', 'v', ver, 'r', room, 'u', uid, 'm', on and '1' or '0', 't', R.now)
redis.call('HSET', key_ia_room_version(R.base), room, ver)
redis.call('SPUBLISH', key_channel(R.base), 'ia:' .. room .. ':-:' .. ver)
return {OK, 1, ver}
