-- bench/lua/get.lua — GET of one fixed URL (the one on wrk's command line):
-- /api/products/popular, /api/products and the static-file ceilings.
-- No request(): wrk sends the same pre-built request every time.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
    bench_init(args)
end

function response(status, headers, body)
    bench_count(status)
end
