"""A schema that does not match the module is obvious (issue 22, item 1).

The module knows the migrations it was built for (the file names of
sql/migrations, compiled in). On a database without them readiness answers
503 SCHEMA_MISMATCH naming what differs, the data routes answer the same
503 instead of 500, and the jobs log it once (not every tick). The check
runs again while httpd runs: migrating afterwards makes it ready, a missing
newest schema_migrations row makes it unready within seconds, and its
return makes it ready again.
"""
import re
import time
from pathlib import Path

import pytest

from shopclient import assert_problem, free_port, ok, request, wait_until

ROOT = Path(__file__).resolve().parents[2]
DB = "shop_schema"
MIGRATIONS = sorted(p.name for p in (ROOT / "sql" / "migrations").glob("*.sql"))
NEWEST = MIGRATIONS[-1]


@pytest.fixture(scope="module")
def bare(stack):
    """(instance, base URL) of a shop whose database is created, not migrated."""
    stack.psql(f"DROP DATABASE IF EXISTS {DB}")
    stack.psql(f"CREATE DATABASE {DB} OWNER shop")
    port = free_port()
    conf = f"""
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    ServerName schema.example
    DBDParams "host={stack.pgsock} port=5432 dbname={DB} user=shop"
</VirtualHost>
"""
    with stack.httpd(conf, "schema") as inst:
        yield inst, f"http://127.0.0.1:{port}/api"


def ready(base):
    return request("GET", base + "/health/ready")


def mismatch(resp):
    """The problem of a 503 SCHEMA_MISMATCH, with its Retry-After."""
    p = assert_problem(resp, 503, "SCHEMA_MISMATCH")
    assert int(resp.headers["retry-after"]) >= 1, resp
    return p


def schema_lines(inst):
    return [ln for ln in inst.error_log().splitlines() if "SHOP00040" in ln]


def test_an_unmigrated_database_is_not_ready_and_says_so(stack, bare):
    inst, base = bare
    wait_until(lambda: ready(base).status == 503, 10, "readiness to answer 503")
    p = mismatch(ready(base))
    assert "no migration is applied" in p["detail"], p
    assert "mod-shop-migrate" in p["detail"], p
    # data routes: the same 503, not a 500
    mismatch(request("GET", base + "/products"))
    mismatch(request("POST", base + "/admin/users", {"login": "nobody"}))
    mismatch(request("GET", base + "/users/1/points"))
    # liveness does not need a schema
    assert ok(request("GET", base + "/health"))["status"] == "ok"
    # the status view answers from memory, and says why
    status = ok(request("GET", base + "/admin/status"))
    assert status["schema"] == "none" and status["shop"] == "schema.example", status


def test_the_jobs_say_it_once_not_every_tick(stack, bare):
    inst, base = bare
    wait_until(lambda: schema_lines(inst), 10, "the jobs' schema line")
    before = inst.error_log()
    time.sleep(4)       # two schema checks and ~8 ticks of the other jobs
    new = inst.error_log()[len(before):]
    assert "SHOP00040" not in new, new          # once a minute, not per check
    assert "SHOP00013" not in new, new          # the other jobs wait for a schema
    assert "SHOP00008" not in new, new
    line = schema_lines(inst)[0]
    assert "shop schema.example" in line and "run mod-shop-migrate" in line, line


def test_migrating_while_running_makes_it_ready(stack, bare):
    inst, base = bare
    stack.migrate(DB)
    wait_until(lambda: ready(base).status == 200, 10, "readiness after mod-shop-migrate")
    assert ok(request("GET", base + "/products"))["items"] == []
    assert ok(request("GET", base + "/admin/status"))["schema"] == "match"
    wait_until(lambda: "SHOP00041" in inst.error_log(), 10, "the 'matches again' line")


def test_a_missing_newest_migration_turns_readiness_and_back(stack, bare):
    inst, base = bare
    wait_until(lambda: ready(base).status == 200, 10, "a ready shop")
    applied_at = stack.psql(f"SELECT applied_at FROM schema_migrations WHERE version = '{NEWEST}'",
                            db=DB)
    stack.psql(f"DELETE FROM schema_migrations WHERE version = '{NEWEST}'", db=DB)
    try:
        t0 = time.monotonic()
        wait_until(lambda: ready(base).status == 503, 10, "readiness to turn 503")
        took = time.monotonic() - t0
        p = mismatch(ready(base))
        assert p["detail"].startswith(f"migrations not applied: {NEWEST};"), p
        mismatch(request("GET", base + "/products"))
        assert took < 8, took
    finally:
        stack.psql(f"INSERT INTO schema_migrations VALUES ('{NEWEST}', '{applied_at}')", db=DB)
    wait_until(lambda: ready(base).status == 200, 10, "readiness back to 200")
    ok(request("GET", base + "/products"))


def test_a_database_newer_than_the_module_is_not_ready_but_serves(stack, bare):
    inst, base = bare
    wait_until(lambda: ready(base).status == 200, 10, "a ready shop")
    stack.psql("INSERT INTO schema_migrations (version) VALUES ('999_from_the_future.sql')", db=DB)
    try:
        wait_until(lambda: ready(base).status == 503, 10, "readiness to turn 503")
        p = mismatch(ready(base))
        assert "migrations unknown to this module: 999_from_the_future.sql" in p["detail"], p
        assert "upgrade the module" in p["detail"], p
        ok(request("GET", base + "/products"))      # migrations add: the data routes serve
    finally:
        stack.psql("DELETE FROM schema_migrations WHERE version = '999_from_the_future.sql'", db=DB)
    wait_until(lambda: ready(base).status == 200, 10, "readiness back to 200")


def test_a_missing_table_is_503_not_500_and_checked_at_once(stack, bare):
    inst, base = bare
    wait_until(lambda: ready(base).status == 200, 10, "a ready shop")
    stack.psql("ALTER TABLE users RENAME TO users_elsewhere", db=DB)
    try:
        r = request("POST", base + "/admin/users", {"login": "renamed"})
        p = mismatch(r)
        assert "lacks a table or function" in p["detail"], p
    finally:
        stack.psql("ALTER TABLE users_elsewhere RENAME TO users", db=DB)
    ok(request("POST", base + "/admin/users", {"login": "renamed"}), 201)
    assert not re.search(r"SHOP00030.*42P01", inst.error_log()), "a 500 was logged"
