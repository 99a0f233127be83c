-- change_lesson: change the teacher and/or the time of the readable version of
-- a lesson, atomically: the lesson record and every room whose teacher or time
-- follows from it (main room: teacher and lesson time; tutor rooms: the phase
-- windows around the lesson). Room fields other than these are left as they are,
-- so concurrent moves (member counts) are never overwritten.
-- KEYS[1] lesson head hash
-- ARGV[1] now (ms)
-- ARGV[2] new teacher uid ('' keeps it)
-- ARGV[3] new start time, ms ('' keeps the time)
-- ARGV[4] new end time, ms
-- ARGV[5] minutes-before window of tutor 'before' rooms, in ms
-- ARGV[6] minutes-after window of tutor 'after' rooms, in ms
-- Returns {OK, version, changeSeq, rooms changed, {room id, room blob, ...} of the rooms changed} | _head.lua's codes
-- @include _head.lua
local head = KEYS[1]
local version, vb, unreadable = readable(head)
if unreadable then return unreadable end
local chan = key_channel(lesson_base(head))
local teacher = ARGV[2]
local timed = ARGV[3] ~= ''
local s, e = tonumber(ARGV[3]), tonumber(ARGV[4])
local before, after = tonumber(ARGV[5]), tonumber(ARGV[6])
if teacher ~= '' then redis.call('HSET', key_lesson(vb), 'teacherUid', teacher) end
if timed then redis.call('HSET', key_lesson(vb), 'startTime', ARGV[3], 'endTime', ARGV[4]) end
local flat = redis.call('HGETALL', key_rooms(vb))
local changed, out = 0, {}
for i = 1, #flat, 2 do
  local r = cmsgpack.unpack(flat[i + 1])
  local dirty = false
  if r.roomType == 'main' then
    if teacher ~= '' and tostring(r.teacherUid) ~= teacher then r.teacherUid = tonumber(teacher); dirty = true end
    if timed and (r.startTime ~= s or r.endTime ~= e) then r.startTime, r.endTime = s, e; dirty = true end
  elseif timed then
    local rs, re
    if r.roomType == 'tutor_before' then rs, re = s - before, s
    elseif r.roomType == 'tutor_in' then rs, re = s, e
    else rs, re = e, e + after end
    if r.startTime ~= rs or r.endTime ~= re then r.startTime, r.endTime = rs, re; dirty = true end
  end
  if dirty then
    local blob = cmsgpack.pack(r)
    redis.call('HSET', key_rooms(vb), flat[i], blob)
    out[#out + 1] = flat[i]
    out[#out + 1] = blob
    redis.call('SPUBLISH', chan, 'room:' .. flat[i])
    changed = changed + 1
  end
end
redis.call('SPUBLISH', chan, 'lesson')
local seq = redis.call('HINCRBY', head, 'changeSeq', 1)
redis.call('HSET', head, 'updatedAt', ARGV[1])
return {OK, tonumber(version), seq, changed, out}
