-- tests/chaos/reload.lua — wrk's requests for the chaos suite's "reload" fault
-- (tests/chaos/wrkload.py starts it): one of the given paths at random,
--     method=GET  paths=/api/products/1,/api/products/2      a plain GET
--     method=POST paths=/api/users/49/points/charge,...      a charge {"amount":N},
--                                                            N random in 1..1000
-- over wrk's keep-alive connections; with delay=MS each connection waits MS
-- milliseconds after an answer before its next request (a paced load, not
-- the most the box can take). The status counts, socket errors and latencies
-- come out as bench/lua/common.lua's one "BENCH_JSON {...}" line.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../bench/lua/common.lua")

local headers = { ["Content-Type"] = "application/json" }

function init(args)
    bench_init(args)
    for path in tostring(opt.paths):gmatch("[^,]+") do
        if opt.method == "POST" then
            for _ = 1, 64 do
                reqs[#reqs + 1] = wrk.format("POST", path, headers,
                                             '{"amount":' .. math.random(1000) .. '}')
            end
        else
            reqs[#reqs + 1] = wrk.format("GET", path)
        end
    end
    if opt.delay then
        function delay() return opt.delay end   -- wrk looks for it after init()
    end
end

-- Every status, and apart the 503 BUSY answers that carry Retry-After (the
-- write gate's "try again", extra.busy_retry_after).
function response(status, headers, body)
    bench_count(status)
    if status == 503 and headers["Retry-After"] and body:find('"code":"BUSY"', 1, true) then
        bench_add("busy_retry_after")
    end
end
