-- wrk script for the issuer benchmark harness (bench/wrk.py drives it).
-- Environment:
--   METHOD (GET|POST, default GET)     BODY   form body for POST
--   AUTH   full Authorization header value   INM   If-None-Match value
--   EXPECT status counted as a success (default 200)
--   EXPECT_BODY a Lua pattern the body must contain to count as a success
--   MODE=refresh  rotation chains: run wrk with -t N -c N (one connection per thread, so the
--                 thread's Lua state is the connection's state); SEEDS names a file with one
--                 refresh token per line, thread i starts from line i; every request presents
--                 the token returned by the previous response on that connection, exactly once;
--                 OUT names a file that receives each chain's last unused token.
-- Prints one line: RESULT key=value ... (latencies in microseconds).
local method = os.getenv("METHOD") or "GET"
local expect = tonumber(os.getenv("EXPECT") or "200")
local expect_body = os.getenv("EXPECT_BODY")
local mode = os.getenv("MODE") or ""
local body = os.getenv("BODY")
local threads = {}

wrk.method = method
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end
if os.getenv("INM") then wrk.headers["If-None-Match"] = os.getenv("INM") end
if method == "POST" then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = body or ""
end

function setup(thread)
  table.insert(threads, thread)
  if mode == "refresh" then
    if not seeds then
      seeds = {}
      for line in io.lines(os.getenv("SEEDS")) do
        if #line > 0 then table.insert(seeds, line) end
      end
    end
    local tok = seeds[#threads]
    if tok == nil then error("SEEDS has fewer tokens than wrk threads") end
    thread:set("token", tok)
    thread:set("idx", #threads)
  end
end

function init(args)
  good = 0
  bad = 0
  broken = 0
  statuses = {}
  stopped = false
end

if mode == "refresh" then
  local extra = body or ""
  function request()
    local tok = token
    if idx == 1 and not verified then
      -- wrk calls request() once on thread 1's state before the run only to check it (never
      -- sent): build it without consuming the token
      verified = true
      return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. (tok or "x") .. extra)
    end
    if tok == nil then
      -- the chain is broken (an error response): never invent or replay a token; stop here
      if not stopped then
        stopped = true
        broken = broken + 1
        if wrk.thread then wrk.thread:stop() end
      end
      return wrk.format("GET", "/healthz")
    end
    token = nil -- presented exactly once
    return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. tok .. extra)
  end
end

function response(status, headers, resp)
  if stopped then return end
  statuses[status] = (statuses[status] or 0) + 1
  local ok = (status == expect)
  if ok and expect_body and not string.find(resp, expect_body) then ok = false end
  if mode == "refresh" then
    local nxt = ok and string.match(resp, '"refresh_token"%s*:%s*"([^"]+)"') or nil
    if nxt == nil then ok = false end
    token = nxt
  end
  if ok then good = good + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local g, b, br = 0, 0, 0
  local st = {}
  local left = {}
  for _, t in ipairs(threads) do
    g = g + (t:get("good") or 0)
    b = b + (t:get("bad") or 0)
    br = br + (t:get("broken") or 0)
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do st[k] = (st[k] or 0) + v end
    if mode == "refresh" then
      local tok = t:get("token")
      if tok then table.insert(left, tok) end
    end
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, tostring(k) .. ":" .. tostring(v)) end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d good=%d bad=%d broken=%d statuses=%s "
      .. "connect=%d read=%d write=%d timeout=%d p50=%d p90=%d p99=%d max=%d\n",
    summary.requests, summary.duration, g, b, br, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  local out = os.getenv("OUT")
  if mode == "refresh" and out then
    local f = io.open(out, "w")
    for _, tok in ipairs(left) do f:write(tok, "\n") end
    f:close()
  end
end
