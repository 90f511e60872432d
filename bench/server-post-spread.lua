-- wrk script: POST /events/v1/events over BENCH_CHANNELS channels (default
-- 300), a different one each request, so that in cluster mode the
-- publishes spread over every master (bench/cluster.js).
local secret = os.getenv("BENCH_SECRET") or "bench-secret"
local n = tonumber(os.getenv("BENCH_CHANNELS") or "300")
local i = 0

request = function()
  i = i + 1
  local body = '{"secret":"' .. secret .. '","clientId":"bench","channel":"spread-' .. (i % n) ..
               '","from":"bench","type":"t","data":{"n":1}}'
  return wrk.format("POST", "/events/v1/events", {["Content-Type"] = "application/json"}, body)
end
