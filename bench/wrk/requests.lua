-- wrk script for bench/http.ts: cycles through requests read from a file, so
-- every request can carry a different student's token and path, and prints the
-- run's figures as one JSON line in done().
--
--   wrk -t1 -c64 -d5s -s bench/wrk/requests.lua http://127.0.0.1:PORT -- requests.tsv [DELAY_MS]
--
-- With DELAY_MS each connection pauses after every response (0..2*DELAY_MS ms,
-- DELAY_MS on average) before its next request: a paced load of about
-- connections * 1000 / (DELAY_MS + latency) requests per second (the latency
-- runs at half of max load).
--
-- requests.tsv: one request a line, tab-separated: METHOD, PATH, TOKEN ('' = no
-- authorization header), BODY ('' = none; JSON, so it has no tabs or newlines).
-- Requests are formatted once in init(): request() only hands out a string,
-- which keeps the generator's cost per request the same for every target.

local reqs = {}
local n = 0
local i = 0

function init(args)
  local file = args[1]
  if not file then error("usage: wrk ... -s requests.lua URL -- requests.tsv") end
  for line in io.lines(file) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    if method and method ~= "" then
      local headers = {}
      if token ~= "" then headers["authorization"] = "Bearer " .. token end
      if body == "" then
        body = nil
      else
        headers["content-type"] = "application/json"
      end
      n = n + 1
      reqs[n] = wrk.format(method, path, headers, body)
    end
  end
  if n == 0 then error("no requests in " .. file) end
  if args[2] then
    local d = tonumber(args[2])
    -- wrk checks for a global delay() after init(): defining it here switches pacing on.
    -- Pauses are drawn from 0..2d (mean d) so connections do not fall into step
    -- on wrk's millisecond timer ticks and arrive in bursts.
    delay = function() return math.random(0, 2 * d) end
  end
  -- Threads start at different offsets so they do not ask for the same item in step.
  i = math.random(n) - 1
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"p50Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
