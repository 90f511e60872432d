-- wrk script: POST /events/v1/events (bench/retention.sh). From the
-- environment: BENCH_SECRET, BENCH_CHANNEL, BENCH_DATA_BYTES (size of the
-- data string, default a tiny event). Runs for -d; bench/retention.sh stops
-- it earlier when it has published enough.
local secret = os.getenv("BENCH_SECRET") or "bench-secret"
local channel = os.getenv("BENCH_CHANNEL") or "bench-post"
local size = tonumber(os.getenv("BENCH_DATA_BYTES") or "0")

local data = size > 0 and ('{"s":"' .. string.rep("x", size) .. '"}') or '{"n":1}'
wrk.method = "POST"
wrk.path = "/events/v1/events"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"secret":"' .. secret .. '","clientId":"bench","channel":"' .. channel ..
           '","from":"bench","type":"t","data":' .. data .. '}'

