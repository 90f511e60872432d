-- wrk script: POST /events/v1/events with a fixed JSON body (bench/server.sh).
-- BENCH_SECRET and BENCH_CHANNEL come from the environment; BENCH_IDEM=1
-- gives each request an Idempotency-Key of its own (32 hex digits: the
-- thread's number, then a count), as the clients send.
local secret = os.getenv("BENCH_SECRET") or "bench-secret"
local channel = os.getenv("BENCH_CHANNEL") or "bench-post"
local keyed = os.getenv("BENCH_IDEM") == "1"

wrk.method = "POST"
wrk.path = "/events/v1/events"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"secret":"' .. secret .. '","clientId":"bench","channel":"' .. channel ..
           '","from":"bench","type":"t","data":{"n":1}}'

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local n = 0
local prefix
function init()
  prefix = string.format("%08x%08x", tid or 0, os.time() % 0x7fffffff)
end

if keyed then
  function request()
    n = n + 1
    wrk.headers["Idempotency-Key"] = prefix .. string.format("%016x", n)
    return wrk.format()
  end
end
