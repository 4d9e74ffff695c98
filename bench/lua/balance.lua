-- bench/lua/balance.lua — GET /api/users/{id}/points, users uniformly
-- random in 1..users (requests pre-built in init()).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
    bench_init(args)
    for id = 1, opt.users do
        reqs[id] = wrk.format("GET", opt.prefix .. "/users/" .. id .. "/points")
    end
end
