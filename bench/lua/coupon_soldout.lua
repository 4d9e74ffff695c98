-- bench/lua/coupon_soldout.lua — POST /api/users/{id}/coupons {"coupon_id"}
-- on a campaign that is already sold out (random users): every answer must
-- be 409 SOLD_OUT (the shared-memory sold-out set, then one indexed read),
-- or ALREADY_ISSUED for a user who won a coupon in the race before.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }

function init(args)
    bench_init(args)
    local body = '{"coupon_id":' .. opt.coupon .. '}'
    for i = 1, 8192 do
        reqs[i] = wrk.format("POST", opt.prefix .. "/users/" .. math.random(opt.users) .. "/coupons",
                             headers, body)
    end
end

function response(status, headers, body)
    bench_count(status)
    if status == 409 and body:find('"SOLD_OUT"', 1, true) then
        bench_add("sold_out")
    elseif status == 409 and body:find('"ALREADY_ISSUED"', 1, true) then
        bench_add("already_issued")
    end
end
