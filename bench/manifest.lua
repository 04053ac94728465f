-- wrk script for bench/run.sh: GET a manifest with an Accept header and, when
-- BENCH_BASIC is set (base64 of user:password), HTTP Basic credentials.
-- Writes machine-readable results to BENCH_WRK_OUT.
wrk.method = "GET"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "application/vnd.oci.image.manifest.v1+json"
local basic = os.getenv("BENCH_BASIC")
if basic and basic ~= "" then
  wrk.headers["Authorization"] = "Basic " .. basic
end

function done(summary, latency, requests)
  local path = os.getenv("BENCH_WRK_OUT")
  if not path then return end
  local f = io.open(path, "w")
  local e = summary.errors
  f:write(string.format("requests=%d\n", summary.requests))
  f:write(string.format("duration_us=%d\n", summary.duration))
  f:write(string.format("rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
  f:write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  f:write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  f:write(string.format("bad_status=%d\n", e.status))
  f:write(string.format("sock_errors=%d\n", e.connect + e.read + e.write + e.timeout))
  f:close()
end
