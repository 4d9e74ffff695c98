-- bench/lua/flash_order.lua — the flash sale's orders (bench/run, issue 20):
-- POST /api/users/{u}/orders {"items":[{"product_id":p,"quantity":1}]} for
-- a random user 1..users, and p = product=P (every order on one product)
-- or a random one of 1..spread (orders spread over that many products).
-- Orders are only created (AWAITING_PAYMENT: the stock is reserved), not
-- paid.
--
-- Beyond the status counts of common.lua: a 409 OUT_OF_STOCK is counted
-- (out_of_stock), and a 503 without a Retry-After header
-- (retry_after_missing): an overloaded server may shed load with 503, but
-- must say when to come back.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }
local prefix

function init(args)
    bench_init(args)
    prefix = opt.prefix .. "/users/"
end

function request()
    local p = opt.product or math.random(opt.spread)
    return wrk.format("POST", prefix .. math.random(opt.users) .. "/orders", headers,
                      '{"items":[{"product_id":' .. p .. ',"quantity":1}]}')
end

function response(status, headers, body)
    bench_count(status)
    if status == 409 and body:find('"OUT_OF_STOCK"', 1, true) then
        bench_add("out_of_stock")
    elseif status == 503 and not (headers["Retry-After"] or headers["retry-after"]) then
        bench_add("retry_after_missing")
    end
end
