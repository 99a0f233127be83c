-- wb_ack: acknowledge flushed write-behind records and delete them, in one step,
-- so the stream's length is exactly the work not yet in MySQL (back pressure
-- reads XLEN) and no acknowledged record can linger after a crash.
-- KEYS[1] write-behind stream
-- ARGV[1] consumer group
-- ARGV[2..] entry ids
-- Returns the number of entries acknowledged
local acked = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
return acked
