-- wrk script: POST /api/v1/reservations with a fresh reservation id each time, one unit of a random BENCH SKU.
-- Usage: wrk -t2 -c32 -d10s -s bench/reserve.lua http://127.0.0.1:3002
local skus = tonumber(os.getenv("BENCH_SKUS") or "100")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

local function uuid()
  local template = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(template, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function request()
  local body = string.format('{"reservation_id":"%s","items":[{"sku":"BENCH-%04d","quantity":1}]}',
                             uuid(), math.random(1, skus))
  return wrk.format("POST", "/api/v1/reservations", {["Content-Type"] = "application/json"}, body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx responses: %d\n", summary.errors.status))
end
