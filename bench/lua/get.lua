-- bench/lua/get.lua — GET of one fixed URL (the one on wrk's command line):
-- /api/products/popular, /api/products and the static-file ceilings; with
-- if_none_match=<etag> a revalidation (product_304).
-- No request(): wrk sends the same pre-built request every time.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = nil       -- the same request every time: wrk's own, fastest path

function init(args)
    bench_init(args)
    -- wrk builds its request after init(): the header is in every request
    if opt.if_none_match then wrk.headers["If-None-Match"] = opt.if_none_match end
end
