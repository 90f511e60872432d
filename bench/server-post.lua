-- wrk script: POST /events/v1/events with a fixed JSON body (bench/server.sh).
-- BENCH_SECRET and BENCH_CHANNEL come from the environment.
local secret = os.getenv("BENCH_SECRET") or "bench-secret"
local channel = os.getenv("BENCH_CHANNEL") or "bench-post"

wrk.method = "POST"
wrk.path = "/events/v1/events"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"secret":"' .. secret .. '","clientId":"bench","channel":"' .. channel ..
           '","from":"bench","type":"t","data":{"n":1}}'
