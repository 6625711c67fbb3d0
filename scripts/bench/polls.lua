-- wrk script: poll a working set of jobs, each with its owner's token and
-- api-key. BENCH_IDS lists "id client" lines; BENCH_CREDS "client token key".
local ids, owners, tokens, keys = {}, {}, {}, {}

function init(args)
  for line in io.lines(os.getenv("BENCH_CREDS")) do
    local client, token, key = line:match("^(%S+) (%S+) (%S+)$")
    tokens[client], keys[client] = token, key
  end
  for line in io.lines(os.getenv("BENCH_IDS")) do
    local id, client = line:match("^(%S+) (%S+)$")
    ids[#ids + 1], owners[#owners + 1] = id, client
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local i = math.random(#ids)
  local c = owners[i]
  return wrk.format("GET", "/patients/composition/job/" .. ids[i],
    { ["Authorization"] = "Bearer " .. tokens[c], ["api-key"] = keys[c] })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
