-- wrk script of scripts/bench-serve: every request posts a new support ticket as a structured-mode
-- CloudEvent (a unique id per thread and request) to POST /processes/support-ticket/events.
local counter = 0
local thread_id = 0
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local id = thread_id .. "-" .. counter
  local body = '{"specversion":"1.0","id":"wrk-' .. id .. '","source":"/wrk","type":"NewTicket",' ..
    '"data":{"id":"T-' .. id .. '","customer":"c","plan":"team","subject":"Export is broken","body":"Help."}}'
  return wrk.format("POST", "/processes/support-ticket/events",
    {["content-type"] = "application/cloudevents+json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("ingress: %d requests, %d errors (status), %.0f requests/s, latency p50 %.1f ms, p99 %.1f ms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
