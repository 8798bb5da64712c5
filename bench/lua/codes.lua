-- wrk script for the codes benchmarks (bench/wrk.py runs it).
-- Arguments after "--": MODE CODES_FILE EMAIL_PREFIX [KEY]
--   MODE claim:  POST /codes/claim {"code": ..., "email": <unique>} for codes taken round-robin
--   MODE lookup: GET /codes/<code> for codes taken round-robin
--   MODE assign: POST /codes/assign {"batch": <the file's first line>, "email": <unique>}
-- Every email is unique: the prefix names the run, then the wrk thread, then a counter.
-- done() prints one line "WRK_JSON {...}" with the counts and latency percentiles in microseconds.

local mode, prefix
local codes = {}
local headers = {}
local counter = 0
local threads_made = 0

function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_number", threads_made)
end

function init(args)
  mode, prefix = args[1], args[3]
  for line in io.lines(args[2]) do
    if line ~= "" then codes[#codes + 1] = line end
  end
  if args[4] and args[4] ~= "" then headers["Authorization"] = "Bearer " .. args[4] end
  if mode ~= "lookup" then headers["Content-Type"] = "application/json" end
  -- Threads start at different places in the list.
  counter = (thread_number - 1) * 7919
end

function request()
  counter = counter + 1
  local code = codes[(counter % #codes) + 1]
  if mode == "lookup" then
    return wrk.format("GET", "/codes/" .. code, headers)
  end
  local email = prefix .. "-" .. thread_number .. "-" .. counter .. "@bench.example"
  if mode == "assign" then
    local body = '{"batch":"' .. codes[1] .. '","email":"' .. email .. '"}'
    return wrk.format("POST", "/codes/assign", headers, body)
  end
  local body = '{"code":"' .. code .. '","email":"' .. email .. '"}'
  return wrk.format("POST", "/codes/claim", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
