-- wrk script: POST pre-signed Livepeer deliveries, each once, and count every answer.
-- Usage: wrk -t<n> -s deliveries.lua <url> -- <file> <n>; the file holds "<signature>\t<body>"
-- lines, and <n> repeats the thread count (each thread runs in a Lua state of its own).
-- Thread k of n sends lines k, k+n, k+2n, ...; past the end it starts over (the same event
-- again, which taskhook answers 200 as a duplicate: the runner makes the file long enough).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  lines = {}
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  nthreads = tonumber(args[2])
  index = id + 1
  statuses = {}
  sent = 0
end

function request()
  local entry = lines[index]
  index = index + nthreads
  if index > #lines then index = (index - 1) % nthreads + 1 end
  sent = sent + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Livepeer-Signature"] = entry[1],
  }, entry[2])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "statuses": {%s}, "latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout, table.concat(parts, ", "),
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
