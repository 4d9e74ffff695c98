-- bench/lua/order_pay.lua — the purchase flow, one "op" = two requests:
--   POST /api/users/{u}/orders {"items":[{"product_id":p,"quantity":1}]}  -> 201
--   POST /api/users/{u}/orders/{order_id}/payment {}                      -> 200
-- for a random user and a random product. wrk does not say which
-- connection a response belongs to, so each thread keeps a queue: a 201
-- pushes (user, order_id) parsed from its body, and the next request()
-- pays the oldest unpaid order of the thread, or creates a new order when
-- nothing is waiting. Every created order is paid at most once.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }
local prefix
local q_first, q_last = 1, 0
local queue = {}

function init(args)
    bench_init(args)
    prefix = opt.prefix .. "/users/"
end

function request()
    if q_first <= q_last then
        local o = queue[q_first]
        queue[q_first] = nil
        q_first = q_first + 1
        bench_add("pay_sent")
        return wrk.format("POST", prefix .. o[1] .. "/orders/" .. o[2] .. "/payment",
                          headers, "{}")
    end
    bench_add("create_sent")
    return wrk.format("POST", prefix .. math.random(opt.users) .. "/orders", headers,
                      '{"items":[{"product_id":' .. math.random(opt.products) .. ',"quantity":1}]}')
end

function response(status, headers, body)
    bench_count(status)
    if status == 201 then
        local oid = body:match('"order_id":%s*(%d+)')
        local uid = body:match('"user_id":%s*(%d+)')
        if oid and uid then
            q_last = q_last + 1
            queue[q_last] = { uid, oid }
            bench_add("created")
        else
            bench_add("unparsed")
        end
    elseif status == 200 then
        bench_add("paid")
    end
end
