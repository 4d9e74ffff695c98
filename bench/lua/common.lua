-- bench/lua/common.lua — shared by every wrk script of bench/run.
--
-- A route script starts with
--     dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
-- and then defines init/request/response using the helpers below.
--
-- What it gives:
--   * bench_init(args): parses "key=value" script arguments into `opt`,
--     seeds math.random per thread (opt.tid comes from setup()).
--   * bench_count(status): per-thread count of every HTTP status.
--   * `extra`: a per-thread table of numbers a script may fill; done()
--     adds them up over the threads (keys ending in _min / _max are
--     combined with min / max instead).
--   * bench_now(): monotonic seconds (LuaJIT ffi, clock_gettime).
--   * done(): prints ONE line "BENCH_JSON {...}" with the summary, the
--     latency percentiles (microseconds), the errors, the status counts and
--     the extra numbers; bench/run parses it.

local ffi = require("ffi")
pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk_id, bench_timespec_t *tp);
]])
local bench_ts = ffi.new("bench_timespec_t")

function bench_now()
    ffi.C.clock_gettime(1, bench_ts)     -- CLOCK_MONOTONIC
    return tonumber(bench_ts.tv_sec) + tonumber(bench_ts.tv_nsec) * 1e-9
end

-- setup() runs in the main Lua state, once per thread, before it starts.
local bench_threads = {}
function setup(thread)
    table.insert(bench_threads, thread)
    thread:set("bench_tid", #bench_threads - 1)
end

opt = {}
statuses = {}
extra = {}

function bench_init(args)
    for _, a in ipairs(args or {}) do
        local k, v = a:match("^([%w_]+)=(.*)$")
        if k then opt[k] = tonumber(v) or v end
    end
    opt.tid = bench_tid or 0
    opt.nthreads = tonumber(opt.nthreads) or 1
    math.randomseed(os.time() * 1000 + opt.tid * 7919 + 13)
    for _ = 1, 10 do math.random() end
end

function bench_count(status)
    statuses[status] = (statuses[status] or 0) + 1
end

function bench_add(key, n)
    extra[key] = (extra[key] or 0) + (n or 1)
end

-- A minimal JSON encoder: numbers, strings, booleans, nested tables
-- (tables with only 1..n keys become arrays).
local function json(v)
    local t = type(v)
    if t == "number" then
        if v ~= v or v == math.huge or v == -math.huge then return "null" end
        if v == math.floor(v) and math.abs(v) < 1e15 then
            return string.format("%d", v)
        end
        return string.format("%.6f", v)
    elseif t == "string" then
        return '"' .. v:gsub('[%c"\\]', function(c)
            return string.format("\\u%04x", c:byte())
        end) .. '"'
    elseif t == "boolean" then
        return tostring(v)
    elseif t == "table" then
        local n, keys = #v, {}
        for k in pairs(v) do keys[#keys + 1] = k end
        if n > 0 and n == #keys then
            local out = {}
            for i = 1, n do out[i] = json(v[i]) end
            return "[" .. table.concat(out, ",") .. "]"
        end
        table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
        local out = {}
        for _, k in ipairs(keys) do
            out[#out + 1] = json(tostring(k)) .. ":" .. json(v[k])
        end
        return "{" .. table.concat(out, ",") .. "}"
    end
    return "null"
end

function done(summary, latency, requests)
    local st, ex = {}, {}
    for _, thread in ipairs(bench_threads) do
        for code, n in pairs(thread:get("statuses") or {}) do
            st[tostring(code)] = (st[tostring(code)] or 0) + n
        end
        for k, n in pairs(thread:get("extra") or {}) do
            if type(n) == "number" then
                if k:match("_min$") then
                    ex[k] = ex[k] and math.min(ex[k], n) or n
                elseif k:match("_max$") then
                    ex[k] = ex[k] and math.max(ex[k], n) or n
                else
                    ex[k] = (ex[k] or 0) + n
                end
            end
        end
    end
    local lat = { mean = latency.mean, max = latency.max, min = latency.min,
                  stdev = latency.stdev }
    for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
        lat["p" .. tostring(p):gsub("%.", "_")] = latency:percentile(p)
    end
    io.write("BENCH_JSON ", json({
        duration_us = summary.duration,
        requests = summary.requests,
        bytes = summary.bytes,
        errors = {
            connect = summary.errors.connect, read = summary.errors.read,
            write = summary.errors.write, status = summary.errors.status,
            timeout = summary.errors.timeout,
        },
        latency_us = lat,
        status = st,
        extra = ex,
    }), "\n")
end

-- The usual shape of a route script: init() fills `reqs` with pre-built
-- requests, one is picked at random per call, and every status is counted.
-- A script that needs more defines its own request/response after dofile.
reqs = {}

function request()
    return reqs[math.random(#reqs)]
end

function response(status, headers, body)
    bench_count(status)
end
