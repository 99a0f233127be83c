-- heartbeat: a student is online in a room. Its last heartbeat goes into the
-- room partition's online zset (the partition its position gives), members
-- older than the online window are trimmed from that partition on the way,
-- and the write-behind record carries the last-seen time.
-- Online count of a room = sum over its partitions of ZCOUNT [now - window, +inf]
-- (read_online.lua): exact at any moment, whether or not stale members were trimmed.
-- KEYS[1] lesson head hash
-- KEYS[2] st:ver  last write-behind version
-- KEYS[3] write-behind stream
-- ARGV[1] uid (decimal)
-- ARGV[2] room id
-- ARGV[3] now (ms)
-- ARGV[4] online window (ms)
-- ARGV[5] max stream length (back pressure)
-- ARGV[6] ttl (seconds) of the state keys
-- Returns {OK, partition, last seen (ms), came online 0|1, version} | {error code, detail...} (_mutation.lua); an error writes nothing.
-- Publishes nothing: no cached read shows heartbeats (online counts are cached
-- briefly without invalidation), so a message per student would only churn caches.
-- @include _mutation.lua

local uid, room, now, window = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local vb, err = version_base(KEYS[1])
if not vb then return err end
local pos = position(vb, redis.call('HGET', key_lesson(vb), 'posBuckets'), uid)
if not pos then return {E_STUDENT_NOT_FOUND} end
local p = room_partition(pos, room)
-- A room in the student's position exists; only a miss needs telling the two errors apart.
if not p then
  if redis.call('HEXISTS', key_rooms(vb), room) == 0 then return {E_ROOM_NOT_FOUND} end
  return {E_STUDENT_NOT_IN_ROOM}
end
local full = stream_full(KEYS[3], ARGV[5])
if full then return full end

local key = key_state_online(lesson_base(KEYS[1]), room, p)
local prev = tonumber(redis.call('ZSCORE', key, uid) or '')
local ver = next_version(KEYS[2], ARGV[6])
-- GT: a late heartbeat from a gateway with a slower clock never moves last-seen back.
redis.call('ZADD', key, 'GT', now, uid)
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', now - window))
redis.call('EXPIRE', key, ARGV[6])
local last = now
if prev and prev > now then last = prev end
local s = string.format('%.0f', last)
wb_append(KEYS[3], ARGV[7], 'e', 'online', 'v', ver, 'r', room, 'u', uid, 'p', p, 't', s)
local came = 0
if not prev or prev < now - window then came = 1 end
return {OK, p, s, came, ver}
