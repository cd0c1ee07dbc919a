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
--   MODE=code     the authorization-code flow, run like refresh (-t N -c N): thread i sends line i
--                 of COOKIES (the Cookie header of a browser session logged in once) and loops
--                 GET AUTHORIZE (path and query without code_challenge, state, nonce) + those
--                 three → a 302/303 whose Location has a code and the same state → POST TOKEN
--                 (path) grant_type=authorization_code with the code, REDIRECT_URI, CLIENT_ID
--                 and the code_verifier. PKCE names a file of "verifier challenge" lines, which
--                 every thread cycles through. A success ("good") is a token response with an
--                 access_token and an id_token: one completed login; an authorize answered
--                 without a code is an error and the thread authorizes again. p50/p90/p99/max
--                 are per login (authorize made → token response read), req_p50/req_p99 per
--                 request.
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
  if mode == "code" then
    if not cookies then
      cookies, pkce = {}, {}
      for line in io.lines(os.getenv("COOKIES")) do
        if #line > 0 then table.insert(cookies, line) end
      end
      for line in io.lines(os.getenv("PKCE")) do
        local v, c = string.match(line, "^(%S+) (%S+)$")
        if v then table.insert(pkce, v .. " " .. c) end
      end
    end
    local cookie = cookies[#threads]
    if cookie == nil then error("COOKIES has fewer sessions than wrk threads") end
    thread:set("cookie", cookie)
    thread:set("pkce", pkce)
    thread:set("idx", #threads)
  end
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
  logins = {}
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

if mode == "code" then
  local ffi = require("ffi")
  ffi.cdef("typedef struct { long sec; long nsec; } bench_timespec;"
    .. "int clock_gettime(int clk, bench_timespec *ts);")
  local ts = ffi.new("bench_timespec")
  local function now_us() -- CLOCK_MONOTONIC
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.sec) * 1000000 + tonumber(ts.nsec) / 1000
  end
  local authorize_path = os.getenv("AUTHORIZE")
  local token_path = os.getenv("TOKEN")
  local tail = "&redirect_uri=" .. os.getenv("REDIRECT_URI") .. "&client_id=" .. os.getenv("CLIENT_ID")
  local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  local phase, n, state, verifier, code, started = "authorize", 0, nil, nil, nil, 0

  function request()
    if phase == "token" then
      return wrk.format("POST", token_path, form,
        "grant_type=authorization_code&code=" .. code .. "&code_verifier=" .. verifier .. tail)
    end
    n = n + 1
    local v, c = string.match(pkce[(n % #pkce) + 1], "^(%S+) (%S+)$")
    verifier, state, started = v, idx .. "-" .. n, now_us()
    return wrk.format("GET", authorize_path .. "&code_challenge=" .. c .. "&state=" .. state
      .. "&nonce=n" .. state, { Cookie = cookie })
  end

  function response(status, headers, resp)
    statuses[status] = (statuses[status] or 0) + 1
    if phase == "authorize" then
      local loc = (status == 302 or status == 303) and (headers["Location"] or headers["location"])
      code = loc and string.match(loc, "[?&]code=([^&#]+)")
      if code and string.match(loc, "[?&]state=([^&#]+)") == state then
        phase = "token"
      else
        bad = bad + 1
      end
      return
    end
    phase = "authorize"
    if status == 200 and string.find(resp, '"id_token"', 1, true)
        and string.find(resp, '"access_token"', 1, true) then
      good = good + 1
      table.insert(logins, now_us() - started)
    else
      bad = bad + 1
    end
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

if mode ~= "code" then
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
end

function done(summary, latency, requests)
  local g, b, br = 0, 0, 0
  local st = {}
  local left = {}
  local per_login = {}
  for _, t in ipairs(threads) do
    for _, us in ipairs(t:get("logins") or {}) do table.insert(per_login, us) end
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
  local p50, p90, p99, max = latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max
  local per_request = ""
  if mode == "code" then
    table.sort(per_login)
    per_request = string.format(" req_p50=%d req_p99=%d", p50, p99)
    p50, p90, p99 = percentile(per_login, 50), percentile(per_login, 90), percentile(per_login, 99)
    max = per_login[#per_login] or 0
  end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d good=%d bad=%d broken=%d statuses=%s "
      .. "connect=%d read=%d write=%d timeout=%d p50=%d p90=%d p99=%d max=%d%s\n",
    summary.requests, summary.duration, g, b, br, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout, p50, p90, p99, max, per_request))
  local out = os.getenv("OUT")
  if mode == "refresh" and out then
    local f = io.open(out, "w")
    for _, tok in ipairs(left) do f:write(tok, "\n") end
    f:close()
  end
end
