-- SPDX-License-Identifier: MIT
--
-- bench/wrk.lua: the wrk script of bench/http.sh.
--
-- When BENCH_TOKEN is set, every request carries "Authorization: Bearer $BENCH_TOKEN"
-- (the authenticated endpoints). At the end it prints one machine-readable line that
-- bench/http.sh reads:
--
--   RESULT <requests/s> <p50 ms> <p99 ms> <requests> <non-2xx/3xx> <socket errors>
--
-- wrk runs the top level of this file once per thread, in that thread's own Lua state,
-- so the header is set in each of them.

local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
	local seconds = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n",
		summary.requests / seconds,
		latency:percentile(50) / 1000,
		latency:percentile(99) / 1000,
		summary.requests,
		e.status,
		e.connect + e.read + e.write + e.timeout))
end
