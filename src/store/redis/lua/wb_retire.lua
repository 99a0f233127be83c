-- wb_retire: delete a lesson's write-behind stream (and its consumer group) if,
-- and only if, it holds no record. Acknowledged records are deleted by wb_ack,
-- so an empty stream has nothing pending either.
-- KEYS[1] write-behind stream
-- Returns 1 if deleted, 0 if it still holds records
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
