-- bench/lua/charge.lua — POST /api/users/{id}/points/charge {"amount":N},
-- users uniformly random in 1..users, amounts random in 1..1000. A pool of
-- 8192 pre-built requests per thread, picked at random.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }

function init(args)
    bench_init(args)
    for i = 1, 8192 do
        local uid = math.random(opt.users)
        reqs[i] = wrk.format("POST", opt.prefix .. "/users/" .. uid .. "/points/charge",
                             headers, '{"amount":' .. math.random(1000) .. '}')
    end
end
