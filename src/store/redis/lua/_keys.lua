-- _keys: every key name a script derives inside Redis from the lesson head key
-- KEYS[1] ("<prefix>{L<id>}:head"), so each derived key keeps the head's hash tag
-- (same slot) and still runs on a Cluster. One function per name of
-- src/store/redis/keys.ts; a test runs these in Redis and compares each result
-- with keys.ts exactly. Scripts build no key name anywhere else. scripts.ts
-- inlines this file where a script (or _head.lua) says "-- @include _keys.lua",
-- and expands each "-- @inline" function (one `return` line) at its calls, so a
-- key name costs a script no call and no closure.

-- LessonKeys.base: "<prefix>{L<id>}:", the head key without its 'head'.
-- @inline
local function lesson_base(head)
  return string.sub(head, 1, -5)
end

-- LessonKeys.version(v).base: "<base>v<v>:".
-- @inline
local function version_base_of(base, version)
  return base .. 'v' .. version .. ':'
end

-- LessonKeys.channel
-- @inline
local function key_channel(base)
  return base .. 'chan'
end

-- VersionKeys.lesson
-- @inline
local function key_lesson(vb)
  return vb .. 'lesson'
end

-- VersionKeys.rooms
-- @inline
local function key_rooms(vb)
  return vb .. 'rooms'
end

-- VersionKeys.nodes
-- @inline
local function key_nodes(vb)
  return vb .. 'nodes'
end

-- VersionKeys.paths
-- @inline
local function key_paths(vb)
  return vb .. 'paths'
end

-- VersionKeys.index
-- @inline
local function key_index(vb)
  return vb .. 'keys'
end

-- positionBucket: the position hash a uid lives in (the one definition in Lua).
-- @inline
local function position_bucket(uid, buckets)
  return tonumber(uid) % buckets
end

-- VersionKeys.positions(bucket)
-- @inline
local function key_positions(vb, bucket)
  return vb .. 'pos:' .. string.format('%d', bucket)
end

-- VersionKeys.members(room, partition)
-- @inline
local function key_members(vb, room, partition)
  return vb .. 'm:' .. room .. ':' .. string.format('%d', partition)
end

-- LessonKeys.stateGroup
-- @inline
local function key_state_group(base)
  return base .. 'st:group'
end

-- LessonKeys.stateSeats
-- @inline
local function key_state_seats(base)
  return base .. 'st:seats'
end

-- LessonKeys.stateDynamicNodes
-- @inline
local function key_state_dyn(base)
  return base .. 'st:dyn'
end

-- LessonKeys.stateDynamicChildren
-- @inline
local function key_state_dyn_kids(base)
  return base .. 'st:dynkids'
end

-- LessonKeys.stateSignIn
-- @inline
local function key_state_signin(base)
  return base .. 'st:signin'
end

-- LessonKeys.stateMuted(room)
-- @inline
local function key_state_muted(base, room)
  return base .. 'st:mute:' .. room
end

-- LessonKeys.stateMutedNodes(room)
-- @inline
local function key_state_muted_nodes(base, room)
  return base .. 'st:mutenode:' .. room
end

-- LessonKeys.stateOnline(room, partition)
-- @inline
local function key_state_online(base, room, partition)
  return base .. 'st:on:' .. room .. ':' .. string.format('%d', partition)
end

-- LessonKeys.scoreIdem
-- @inline
local function key_score_idem(base)
  return base .. 'sc:idem'
end

-- LessonKeys.scoreUsers
-- @inline
local function key_score_users(base)
  return base .. 'sc:user'
end

-- LessonKeys.scoreRoom(room)
-- @inline
local function key_score_room(base, room)
  return base .. 'sc:room:' .. room
end

-- LessonKeys.scoreNodes
-- @inline
local function key_score_nodes(base)
  return base .. 'sc:node'
end

-- LessonKeys.scoreChildren(parent)
-- @inline
local function key_score_children(base, parent)
  return base .. 'sc:kids:' .. parent
end

-- LessonKeys.scoreSeats(scope)
-- @inline
local function key_score_seats(base, scope)
  return base .. 'sc:seat:' .. scope
end

-- LessonKeys.scorePk(scope)
-- @inline
local function key_score_pk(base, scope)
  return base .. 'sc:pk:' .. scope
end

-- LessonKeys.scoreNotice(room)
-- @inline
local function key_score_notice(base, room)
  return base .. 'sc:note:' .. room
end

-- LessonKeys.scorePkSeq
-- @inline
local function key_score_pk_seq(base)
  return base .. 'sc:pkseq'
end

-- LessonKeys.scoreScopes
-- @inline
local function key_score_scopes(base)
  return base .. 'sc:scopes'
end

-- LessonKeys.stateVersion
-- @inline
local function key_state_ver(base)
  return base .. 'st:ver'
end

-- LessonKeys.writeBehind
-- @inline
local function key_wb(base)
  return base .. 'wb'
end

-- LessonKeys.iaSeq
-- @inline
local function key_ia_seq(base)
  return base .. 'ia:seq'
end

-- LessonKeys.iaSession(sessionId)
-- @inline
local function key_ia_session(base, sid)
  return base .. 'ia:s:' .. sid
end

-- LessonKeys.iaLinks(sessionId)
-- @inline
local function key_ia_links(base, sid)
  return base .. 'ia:l:' .. sid
end

-- LessonKeys.iaBusy
-- @inline
local function key_ia_busy(base)
  return base .. 'ia:busy'
end

-- LessonKeys.iaRoom(roomId)
-- @inline
local function key_ia_room(base, room)
  return base .. 'ia:room:' .. room
end

-- LessonKeys.iaActive
-- @inline
local function key_ia_active(base)
  return base .. 'ia:act'
end

-- LessonKeys.iaChannels
-- @inline
local function key_ia_channels(base)
  return base .. 'ia:ch'
end

-- LessonKeys.iaDeadlines
-- @inline
local function key_ia_deadlines(base)
  return base .. 'ia:dl'
end

-- LessonKeys.iaRtc(sessionId)
-- @inline
local function key_ia_rtc(base, sid)
  return base .. 'ia:rtc:' .. sid
end

-- LessonKeys.iaRtcEvents(sessionId)
-- @inline
local function key_ia_rtc_events(base, sid)
  return base .. 'ia:rtcev:' .. sid
end

-- LessonKeys.iaRoomVersion
-- @inline
local function key_ia_room_version(base)
  return base .. 'ia:rv'
end

-- LessonKeys.iaAdmins(roomId)
-- @inline
local function key_ia_admins(base, room)
  return base .. 'ia:adm:' .. room
end
