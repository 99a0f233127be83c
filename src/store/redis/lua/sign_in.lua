-- sign_in: record a student's arrival time; the first sign-in wins, later ones
-- change nothing and return the recorded time.
-- KEYS[1] lesson head hash
-- KEYS[2] st:signin  hash uid -> first sign-in (ms)
-- KEYS[3] st:ver     last write-behind version
-- KEYS[4] write-behind stream
-- ARGV[1] uid (decimal)
-- ARGV[2] now (ms)
-- ARGV[3] max stream length (back pressure)
-- ARGV[4] ttl (seconds) of the state keys
-- ARGV[5] shard channel of the lesson
-- Returns {OK, signed-in time (ms), first 0|1, version or ''} | {error code, detail...} (_mutation.lua); an error writes nothing.
-- Publishes state:<uid> on the first sign-in.
-- @include _mutation.lua

local uid = ARGV[1]
local vb, err = version_base(KEYS[1])
if not vb then return err end
if not position(vb, redis.call('HGET', key_lesson(vb), 'posBuckets'), uid) then return {E_STUDENT_NOT_FOUND} end
local at = redis.call('HGET', KEYS[2], uid)
if at then return {OK, at, 0, ''} end
local full = stream_full(KEYS[4], ARGV[3])
if full then return full end

local ver = next_version(KEYS[3], ARGV[4])
redis.call('HSET', KEYS[2], uid, ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
wb_append(KEYS[4], ARGV[6], 'e', 'signin', 'v', ver, 'u', uid, 't', ARGV[2])
redis.call('SPUBLISH', ARGV[5], 'state:' .. uid)
return {OK, ARGV[2], 1, ver}
