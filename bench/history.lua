-- SPDX-License-Identifier: MIT
--
-- bench/history.lua: the wrk script of bench/history.sh: GET of the URL's path with a
-- Bearer token, counting the answers by status.
--
--   wrk ... -s bench/history.lua URL -- TOKEN
--
-- At the end it prints one line that bench/history.sh reads:
--
--   RESULT <200/s> <p50 ms> <p90 ms> <p99 ms> <max ms> <requests> <200> <non-200> <5xx>
--          <socket errors>
--
-- followed by a "STATUS <code> <count>" line for each status that is not 200.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

counts = {}
n200 = 0
local req

function init(args)
	if args[1] == nil then
		error("usage: wrk ... -s history.lua URL -- TOKEN")
	end
	wrk.headers["Authorization"] = "Bearer " .. args[1]
	req = wrk.format("GET")
end

function request()
	return req
end

function response(status, headers, body)
	if status == 200 then
		n200 = n200 + 1
	else
		counts[status] = (counts[status] or 0) + 1
	end
end

function done(summary, latency, requests)
	local seconds = summary.duration / 1e6
	local ok = 0
	local all = {}
	for _, t in ipairs(threads) do
		ok = ok + t:get("n200")
		for status, n in pairs(t:get("counts")) do
			all[status] = (all[status] or 0) + n
		end
	end
	local non200, n5xx = 0, 0
	for status, n in pairs(all) do
		non200 = non200 + n
		if status >= 500 then
			n5xx = n5xx + n
		end
	end
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.2f %.2f %.2f %.2f %d %d %d %d %d\n",
		ok / seconds,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000,
		summary.requests, ok, non200, n5xx, e.connect + e.read + e.write + e.timeout))
	for status, n in pairs(all) do
		io.write(string.format("STATUS %d %d\n", status, n))
	end
end
