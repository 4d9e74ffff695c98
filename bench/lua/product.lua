-- bench/lua/product.lua — GET /api/products/{id}, ids uniformly random in
-- 1..products. Requests are pre-built in init() (one per id) so request()
-- is a table lookup.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
    bench_init(args)
    for id = 1, opt.products do
        reqs[id] = wrk.format("GET", opt.prefix .. "/products/" .. id)
    end
end
