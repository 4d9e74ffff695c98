-- bench/lua/coupon_race.lua — the first-come coupon race:
-- POST /api/users/{id}/coupons {"coupon_id"} where every request carries a
-- user id nobody has used in this race yet (thread t of n takes
-- t+1, t+1+n, t+1+2n, ...), so each request is a real claim until the
-- campaign is sold out.  Optional first=N (bench/scale): user ids start at
-- N instead of 1 (ids first .. first+users-1), for a campaign whose lower
-- ids already hold one.
--
-- The issue phase ("while coupons remain") ends with the last 201. Per
-- thread we record when the first request left (t_start_min), when the last
-- 201 arrived (t_issue_end_max), how many responses had arrived by then
-- (in_phase) and when the first SOLD_OUT arrived. After the first SOLD_OUT
-- a thread drains: delay() holds every connection for a second, so the
-- answers to requests already in flight (possibly the last 201s) are still
-- counted, then the thread stops. wrk's own duration is only a cap.
--
-- once=1 (the flash sale's coupon drop): every user claims exactly once,
-- sold out or not. Thread t sends the ids t+first, t+first+n, ... below
-- first+users, then holds its connections (delay) and stops once every
-- answer is in, after creating the file <donefile>.<t> (bench/run ends wrk
-- when all threads have one).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }
local body, prefix
local k = 0
local received = 0
local soldout_at = nil
local share, reserved = nil, 0

local function share_of_thread()
    return math.floor((opt.users - opt.tid + opt.nthreads - 1) / opt.nthreads)
end

function init(args)
    bench_init(args)
    body = '{"coupon_id":' .. opt.coupon .. '}'
    prefix = opt.prefix .. "/users/"
    if opt.once == 1 then share = share_of_thread() end
end

function delay()
    if share then
        -- one delay() before each request: reserve its id, or hold
        if reserved >= share then return 3600000 end
        reserved = reserved + 1
        return 0
    end
    if soldout_at then return 1000 end
    return 0
end

function request()
    if k == 0 then extra.t_start_min = bench_now() end
    local uid = (opt.tid + k * opt.nthreads) % opt.users + (opt.first or 1)
    k = k + 1
    return wrk.format("POST", prefix .. uid .. "/coupons", headers, body)
end

function response(status, headers, body)
    local now = bench_now()
    received = received + 1
    bench_count(status)
    if status == 201 then
        bench_add("issued")
        extra.in_phase = received
        extra.t_issue_end_max = now
    elseif status == 409 and body:find('"SOLD_OUT"', 1, true) then
        bench_add("sold_out")
        if not soldout_at then
            soldout_at = now
            extra.t_soldout_min = now
        end
    elseif status == 409 and body:find('"ALREADY_ISSUED"', 1, true) then
        bench_add("already_issued")
    elseif status == 503 and not (headers["Retry-After"] or headers["retry-after"]) then
        bench_add("retry_after_missing")   -- shedding must say when to come back
    end
    if share then
        if received >= share then
            local f = io.open(opt.donefile .. "." .. opt.tid, "w")
            if f then f:close() end
            wrk.thread:stop()
        end
    elseif soldout_at and now - soldout_at > 0.5 then
        wrk.thread:stop()
    end
end
