-- bench/lua/flash_probe.lua — the flash sale's probe (bench/run, issue 20):
-- while the one-product run hammers product `hot`, a few connections read
-- what the sale does not touch, alternately GET /api/products/{p} for p in
-- 1..products other than `hot`, and GET /api/users/{u}/points for u in
-- first..first+users-1 (users that place no order).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local n = 0

function init(args)
    bench_init(args)
end

function request()
    n = n + 1
    if n % 2 == 0 then
        bench_add("points_sent")
        return wrk.format("GET", opt.prefix .. "/users/" .. (opt.first + math.random(opt.users) - 1)
                          .. "/points")
    end
    local p = math.random(opt.products - 1)
    if p >= opt.hot then p = p + 1 end
    bench_add("product_sent")
    return wrk.format("GET", opt.prefix .. "/products/" .. p)
end

-- Each read is timed here, by the clock: bench/run starts the probe with
-- one connection per wrk thread, so request() and response() alternate.
-- wrk's own histogram gave this probe latencies its rate made impossible
-- (mean x rate / connections up to 7, where 1 is consistent) while the
-- machine was saturated.  The counts per bucket (lat_le_<ms>, lat_n) add
-- up over the threads; bench/lib/measure.py reads p50/p99 off them.
local EDGES_MS = { 1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 35, 40, 45, 49, 50, 60, 70, 100, 150,
                   200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000 }
local sent

local request_of = request
function request()
    sent = bench_now()
    return request_of()
end

function response(status, headers, body)
    bench_count(status)
    if not sent then return end
    local ms = (bench_now() - sent) * 1000
    sent = nil
    bench_add("lat_n")
    bench_add("lat_sum_ms", ms)
    extra.lat_max = math.max(extra.lat_max or 0, ms)
    for _, edge in ipairs(EDGES_MS) do
        if ms <= edge then
            bench_add("lat_le_" .. edge)
            return
        end
    end
    bench_add("lat_le_inf")
end
