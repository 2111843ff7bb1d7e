-- SPDX-License-Identifier: MIT
--
-- bench/send.lua: the wrk script of bench/send.sh and bench/group-send.sh: text messages
-- from many distinct senders.
--
--   wrk -tTHREADS ... -s bench/send.lua URL -- SENDERS_FILE THREADS [GROUP_ID]
--
-- SENDERS_FILE has one line per sender: "TOKEN<TAB>RECEIVER_ID<TAB>CHAT_ID" (the chat of
-- that pair, known from a first message sent before the run). Without GROUP_ID each
-- request is POST /v1/messages to that sender's receiver; with GROUP_ID it is
-- POST /v1/groups/GROUP_ID/messages (the receiver and chat columns are not used).
--
-- Senders are dealt to wrk's threads (line i to thread i mod THREADS, which must be wrk's -t). Direct sends: a
-- thread takes the sender of each new request from its queue of free senders and puts it
-- back when the answer comes (the answer names the chat, hence the sender), so no two
-- requests in flight ever come from the same sender (or touch the same chat) as long as a
-- thread has at least as many senders as connections. Group sends (one chat for all) take
-- the thread's senders in turn.
--
-- Every client_msg_id is unique: a run id (time and a random number) with the thread's
-- number and a counter. At the end it prints one line that the scripts read:
--
--   RESULT <201/s> <p50 ms> <p90 ms> <p99 ms> <max ms> <requests> <201> <non-201> <5xx>
--          <socket errors> <sends without a free sender>
--
-- followed by a "STATUS <code> <count>" line for each status that is not 201.

-- Main state (setup and done run there). run_id and tid are globals: setup() sets them in
-- each thread's state with thread:set() before that thread's init().
local threads = {}
local main_run_id

function setup(thread)
	if main_run_id == nil then
		-- The time and wrk's pid: two runs never share it.
		local f = io.open("/proc/self/stat")
		local pid = f and tonumber(f:read("*l"):match("^(%d+)")) or math.random(0, 65535)
		if f then f:close() end
		main_run_id = string.format("%x%x", os.time(), pid)
	end
	table.insert(threads, thread)
	thread:set("tid", #threads)
	thread:set("run_id", main_run_id)
end

-- Thread state (each wrk thread runs this file in its own Lua state).
local senders = {}	-- { token, receiver, chat }
local by_chat = {}	-- chat_id -> sender index
local free = {}		-- queue of free sender indices
local head, tail = 1, 0
local turn = 0
local counter = 0
local path
local group
counts = {}		-- status -> count (read by done() through thread:get)
n201 = 0
starved = 0

local function push(i)
	tail = tail + 1
	free[tail] = i
end

local function pop()
	if head > tail then
		return nil
	end
	local i = free[head]
	free[head] = nil
	head = head + 1
	return i
end

function init(args)
	local file = args[1]
	local n = tonumber(args[2])
	group = args[3]
	if file == nil or n == nil then
		error("usage: wrk -tTHREADS ... -s send.lua URL -- SENDERS_FILE THREADS [GROUP_ID]")
	end
	local all = {}
	for line in io.lines(file) do
		local token, receiver, chat = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)")
		if token ~= nil then
			table.insert(all, { token = token, receiver = receiver, chat = chat })
		end
	end
	local t = tonumber(tid)
	if t == nil or run_id == nil then
		error("setup() did not run for this thread")
	end
	for i, s in ipairs(all) do
		if (i - 1) % n == t - 1 then
			table.insert(senders, s)
			by_chat[s.chat] = #senders
			push(#senders)
		end
	end
	if #senders == 0 then
		error("thread " .. t .. " has no sender: give at least as many senders as threads")
	end
	if group ~= nil and group ~= "" then
		path = "/v1/groups/" .. group .. "/messages"
	else
		group = nil
		path = "/v1/messages"
	end
end

function request()
	local i
	if group == nil then
		i = pop()
		if i == nil then
			starved = starved + 1
		end
	end
	if i == nil then
		turn = turn % #senders + 1
		i = turn
	end
	local s = senders[i]
	counter = counter + 1
	local key = string.format("b%s-%d-%d", run_id, tid, counter)
	local body
	if group == nil then
		body = string.format('{"receiver_id":"%s","message_type":"text",' ..
			'"content":"bench message %d","client_msg_id":"%s"}', s.receiver, counter, key)
	else
		body = string.format('{"message_type":"text","content":"bench message %d",' ..
			'"client_msg_id":"%s"}', counter, key)
	end
	return wrk.format("POST", path, {
		["Authorization"] = "Bearer " .. s.token,
		["Content-Type"] = "application/json",
	}, body)
end

function response(status, headers, body)
	if status == 201 then
		n201 = n201 + 1
	else
		counts[status] = (counts[status] or 0) + 1
	end
	if group == nil then
		local chat = body:match('"chat_id"%s*:%s*"([^"]+)"')
		local i = chat and by_chat[chat]
		if i ~= nil then
			push(i)
		end
	end
end

function done(summary, latency, requests)
	local seconds = summary.duration / 1e6
	local ok, starved_all = 0, 0
	local all = {}
	for _, t in ipairs(threads) do
		ok = ok + t:get("n201")
		starved_all = starved_all + t:get("starved")
		for status, n in pairs(t:get("counts")) do
			all[status] = (all[status] or 0) + n
		end
	end
	local non201, n5xx = 0, 0
	for status, n in pairs(all) do
		non201 = non201 + n
		if status >= 500 then
			n5xx = n5xx + n
		end
	end
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.2f %.2f %.2f %.2f %d %d %d %d %d %d\n",
		ok / seconds,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000,
		summary.requests, ok, non201, n5xx,
		e.connect + e.read + e.write + e.timeout, starved_all))
	for status, n in pairs(all) do
		io.write(string.format("STATUS %d %d\n", status, n))
	end
end
