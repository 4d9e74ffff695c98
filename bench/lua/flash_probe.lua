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
