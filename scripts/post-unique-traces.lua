-- wrk script: POST pre-built OTLP protobuf bodies (scripts/tail-payloads.py), each time with
-- new trace ids: the 8 bytes at every offset listed in <file>.offsets are replaced by a
-- per-request number (thread and counter), so that no two requests share a trace.
-- Environment: TP_FILES (space-separated body files).
local bodies, offsets = {}, {}
local idx, counter = 0, 0
local threads = 0
thread_no = 0  -- a global: setup() gives each thread its own (thread:set)

setup = function(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

init = function(args)
  for f in string.gmatch(os.getenv("TP_FILES") or "", "%S+") do
    local fh = assert(io.open(f, "rb"))
    bodies[#bodies + 1] = fh:read("*a")
    fh:close()
    local list = {}
    local oh = assert(io.open(f .. ".offsets", "r"))
    for o in string.gmatch(oh:read("*a"), "%d+") do list[#list + 1] = tonumber(o) end
    oh:close()
    offsets[#offsets + 1] = list
  end
  assert(#bodies > 0, "TP_FILES is empty")
  idx = math.random(#bodies) - 1
end

local function id8(n)
  -- 8 bytes: thread number, then the counter (big endian, 7 bytes)
  local b = {}
  for i = 7, 1, -1 do
    b[i + 1] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  b[1] = string.char(thread_no % 256)
  return table.concat(b)
end

request = function()
  idx = idx % #bodies + 1
  counter = counter + 1
  local body, list = bodies[idx], offsets[idx]
  local prefix = id8(counter)
  local parts, pos = {}, 1
  for i = 1, #list do
    local o = list[i] + 1  -- Lua strings are 1-based
    parts[#parts + 1] = string.sub(body, pos, o - 1)
    parts[#parts + 1] = prefix
    pos = o + 8
  end
  parts[#parts + 1] = string.sub(body, pos)
  return wrk.format("POST", "/v1/traces", { ["Content-Type"] = "application/x-protobuf" }, table.concat(parts))
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"resp_bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,' ..
    '"lat_p90_us":%d,"lat_p99_us":%d,"lat_p999_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
