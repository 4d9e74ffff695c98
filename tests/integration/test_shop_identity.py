"""Shops are databases, and have names (issue 22, items 4 and 5).

A shop is its database's (host, port, dbname), not its DBDParams text: the
deploy guide's TLS site next to the plain one (the same database, another
sslmode) is one shop, with one set of jobs, and a job setting it sets
differently fails the configuration test. Shops are named by ShopName or
ServerName in server-status, its ?auto keys and the log, so adding a site
or loading the files in another order renumbers nothing.
"""
import pytest

from shopclient import free_port, ok, request, server_status

DB = "shop_ident"


def shop_keys(lines, prefix="ShopOutboxPending."):
    return {k[len(prefix):]: int(v) for k, v in lines.items() if k.startswith(prefix)}


def vhost(port, name, dbd, extra=""):
    return f"""
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    DBDParams "{dbd}"
{extra}
</VirtualHost>
"""


@pytest.fixture(scope="module")
def second_db(stack):
    stack.psql(f"DROP DATABASE IF EXISTS {DB}")
    stack.psql(f"CREATE DATABASE {DB} OWNER shop")
    stack.migrate(DB)
    return f"host={stack.pgsock} port=5432 dbname={DB} user=shop"


def test_two_sites_differing_only_in_sslmode_are_one_shop(stack, second_db):
    plain, tls = free_port(), free_port()
    conf = (vhost(plain, "plain.example", second_db + " sslmode=disable")
            + vhost(tls, "tls.example", "sslmode=prefer " + second_db + " connect_timeout=5"))
    with stack.httpd(conf, "sslmode") as inst:
        lines = server_status(inst)
        # the main server's shop, and one (not two) for the two sites
        names = set(shop_keys(lines))
        assert names == {"127.0.0.1", "plain.example"}, lines
        a = ok(request("GET", f"http://127.0.0.1:{plain}/api/admin/status"))
        b = ok(request("GET", f"http://127.0.0.1:{tls}/api/admin/status"))
        assert a["shop"] == b["shop"] == "plain.example", (a, b)
        # and a host without Shop* directives of its own is not on the main
        # server's shop (httpd shares the main server's configuration with it)
        assert ok(request("GET", inst.base + "/admin/status"))["shop"] == "127.0.0.1"
        assert "SHOP00042" not in inst.error_log()


def test_a_job_setting_that_differs_on_the_same_database_fails_configtest(stack, second_db):
    conf = (vhost(1, "plain.example", second_db + " sslmode=disable")
            + vhost(2, "tls.example", second_db + " sslmode=prefer", "    ShopPopularTopN 3"))
    good, output = stack.configtest(conf)
    assert not good, output
    assert "SHOP00028" in output and "sets ShopPopularTopN differently" in output, output
    assert f"dbname={DB}" in output, output


def test_status_keys_are_shop_names_whatever_the_order(stack, second_db):
    main_db = f"host={stack.pgsock} port=5432 dbname=shop user=shop"
    one, two = free_port(), free_port()
    pending_main = int(stack.psql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
                                  " AND dead_at IS NULL"))
    pending_ident = int(stack.psql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
                                   " AND dead_at IS NULL", db=DB))
    first = (vhost(one, "a.example", second_db, "    ShopName ident")
             + vhost(two, "b.example", main_db.replace("user=shop", "user=shop sslmode=disable"),
                     "    ShopName main-db"))
    # a ShopName in any server of a shop names it (here a vhost on the main
    # server's database); the keys are the same in either order of the sites
    for order, conf in (("ab", first), ("ba", first.split("</VirtualHost>", 1)[1]
                                        + first.split("</VirtualHost>", 1)[0]
                                        + "</VirtualHost>")):
        with stack.httpd(conf, f"names-{order}") as inst:
            keys = shop_keys(server_status(inst))
            assert set(keys) == {"main-db", "ident"}, keys
            assert keys["ident"] == pending_ident
            assert keys["main-db"] == pending_main
            html = request("GET", f"http://127.0.0.1:{inst.port}/server-status").body.decode()
            assert "<td>ident</td>" in html, html
