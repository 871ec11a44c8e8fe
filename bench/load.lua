-- wrk script of bench/loadgen.py: one route, settings from the environment.
--
--   BENCH_METHOD    GET or POST
--   BENCH_PATH      path and query
--   BENCH_HEADERS   header lines, "Name: value" separated by newlines
--   BENCH_BODY      a fixed request body
--   BENCH_BODIES    a file of single-use bodies, one a line: each is sent once; thread i
--                   of BENCH_THREADS takes lines i, i + n, i + 2n... A thread that has
--                   sent all of its lines stops (never sending one twice), and the run
--                   counts as "exhausted"
--   BENCH_EXPECT    the status every answer must have (any other counts as an error)
--   BENCH_OUT       where done() writes the result as JSON (latencies in microseconds)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local method, path, headers, body, bodies, index, expect
-- Globals: done() reads them from each thread with thread:get().
unexpected, exhausted, sample = 0, 0, nil

function init(args)
  method = os.getenv("BENCH_METHOD") or "GET"
  path = os.getenv("BENCH_PATH") or "/"
  expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
  body = os.getenv("BENCH_BODY")
  headers = {}
  for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  local file = os.getenv("BENCH_BODIES")
  if file and file ~= "" then
    local n = tonumber(os.getenv("BENCH_THREADS") or "1")
    bodies, index = {}, 0
    local i = 0
    for line in io.lines(file) do
      if i % n == tid - 1 then table.insert(bodies, line) end
      i = i + 1
    end
  end
end

function request()
  if bodies then
    index = index + 1
    if index > #bodies then
      -- Never a value twice (a refresh token sent again is reuse, which revokes the
      -- grant every pre-issued pair shares): an empty body, refused, until wrk stops.
      exhausted = exhausted + 1
      wrk.thread:stop()
      return wrk.format(method, path, headers, "")
    end
    return wrk.format(method, path, headers, bodies[index])
  end
  return wrk.format(method, path, headers, body)
end

function response(status, resp_headers, resp_body)
  if status ~= expect then
    unexpected = unexpected + 1
    if sample == nil then sample = tostring(status) .. " " .. (resp_body or "") end
  end
end

QUANTILES = {}
for p = 1, 99 do table.insert(QUANTILES, p) end
for _, p in ipairs({99.25, 99.5, 99.75, 99.9, 100}) do table.insert(QUANTILES, p) end

local function json_string(s)
  s = s:sub(1, 300):gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local bad, out_of, first = 0, 0, nil
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
    out_of = out_of + (thread:get("exhausted") or 0)
    first = first or thread:get("sample")
  end
  -- Latency at every percent and in the tail, so that runs can be merged.
  local quantiles = {}
  for _, p in ipairs(QUANTILES) do
    table.insert(quantiles, string.format("[%g, %d]", p, latency:percentile(p)))
  end
  local e = summary.errors
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "unexpected": %d, "exhausted": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f, "sample": %s, ' ..
    '"quantiles": [%s]}',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    bad, out_of, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, first and json_string(first) or "null",
    table.concat(quantiles, ", ")))
  out:close()
end
