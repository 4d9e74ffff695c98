"""`apachectl configtest` stops on every misplaced or invalid mod_shop directive,
naming it (issue 9)."""
import pytest

VHOST = """
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
{body}
</VirtualHost>
"""

BAD = [
    ('<Location "/api">\n    ShopUserAuth remote-user\n</Location>',
     "ShopUserAuth not allowed in <Location> context"),
    ('<Location "/api">\n    ShopPopularWindow 1h\n</Location>',
     "ShopPopularWindow not allowed in <Location> context"),
    # issue 22: the documented message, not httpd's "takes one argument"
    ("ShopJobDBParams \"\"", "ShopJobDBParams must not be empty"),
    ("ShopJobDBParams dbname=a dbname=b", "ShopJobDBParams takes one argument"),
    ("ShopUserAuth sometimes", "ShopUserAuth must be 'none' or 'remote-user'"),
    ("ShopPopularTopN 0", "ShopPopularTopN '0'"),
    ("ShopOrderHold 10 minutes", "ShopOrderHold"),
    ("ShopPlatformURL ftp://x", "ShopPlatformURL must be an http:// or https:// URL"),
    ("ShopPlatformDeadAfter 0", "ShopPlatformDeadAfter '0'"),
    ("ShopPlatformDeadAfter 101", "ShopPlatformDeadAfter '101'"),
    ("ShopPlatformDeadAfter five", "ShopPlatformDeadAfter 'five'"),
    ("ShopPlatformConnections 0", "ShopPlatformConnections '0'"),
    ("ShopPlatformConnections 257", "ShopPlatformConnections '257'"),
    ("ShopReadCacheTTL 2h", "ShopReadCacheTTL"),
    (VHOST.format(port=1, body="    ShopReadCacheTTL 1s"), "sets ShopReadCacheTTL differently"),
    ('<Location "/api">\n    ShopMount api\n</Location>', "ShopMount must be a URL path"),
    # a vhost on the main server's database shares its jobs: same settings
    (VHOST.format(port=1, body="    ShopPopularWindow 1h"),
     "uses the database of the main server but sets ShopPopularWindow differently"),
    (VHOST.format(port=1, body="    ShopPlatformURL http://127.0.0.1:9/x"),
     "sets ShopPlatformURL differently"),
    # issue 22: ShopName is a key of ?auto; a DBDParams that differs only in
    # sslmode names the same database, hence the same shop and its settings
    ("ShopName 'shop one'", "ShopName must be 1-64 letters, digits"),
    ("ShopName a:b", "ShopName must be 1-64 letters, digits"),
    ('DBDParams "dbname=\'unclosed"', "libpq cannot read its connection string"),
    (VHOST.format(port=1, body="    ShopPlatformDeadAfter 3"),
     "sets ShopPlatformDeadAfter differently"),
    (VHOST.format(port=1, body="    ShopPlatformConnections 4"),
     "sets ShopPlatformConnections differently"),
    # issue 13: the ranking reads its whole window from the sales ledger
    ("ShopSalesRetention 1d", "ShopSalesRetention (86400 s) must be at least ShopPopularWindow (259200 s)"),
    ("ShopPopularWindow 2h\nShopSalesRetention 1h", "must be at least ShopPopularWindow"),
    ("ShopOutboxRetention 0", "ShopOutboxRetention '0'"),
    (VHOST.format(port=1, body="    ShopOutboxRetention 1h"),
     "sets ShopOutboxRetention differently"),
    (VHOST.format(port=1, body="    ShopSalesRetention 30d"),
     "sets ShopSalesRetention differently"),
]


@pytest.mark.parametrize("conf,message", BAD, ids=[m for _, m in BAD])
def test_configtest_names_the_mistake(stack, conf, message):
    ok, output = stack.configtest(conf)
    assert not ok, output
    assert message in output, output


GOOD = [
    "ShopUserAuth remote-user",
    "ShopPlatformDeadAfter 1",
    "ShopPlatformDeadAfter 100",
    "ShopPlatformConnections 1",
    "ShopPlatformConnections 256",
    "ShopReadCacheTTL 1s",
    "ShopReadCacheTTL 0",
    'ShopJobDBParams "host=/tmp dbname=x"',
    # its own database: an independent shop, free to differ
    VHOST.format(port=1, body='    DBDParams "dbname=other"\n    ShopPopularWindow 1h'),
    VHOST.format(port=1, body="    ShopOrderHold 5m\n    ShopChargeMax 10"),
    "ShopSalesRetention 3d\nShopOutboxRetention 1h",
    "ShopPopularWindow 30d",       # the retention's default follows: 60d
]


@pytest.mark.parametrize("conf", GOOD)
def test_configtest_accepts(stack, conf):
    ok, output = stack.configtest(conf)
    assert ok, output


def test_a_setting_conflict_points_at_the_directive(stack):
    """SHOP00034 names the file:line of the directive to change, not its
    <VirtualHost> (issue 22)."""
    ok, output = stack.configtest("ShopPopularWindow 2h\nShopSalesRetention 1h")
    assert not ok and "SHOP00034" in output, output
    assert "(set at " in output and "/extra.conf:2)" in output, output
    # in a virtual host: the directive's line (5), not the <VirtualHost> line (3)
    ok, output = stack.configtest(VHOST.format(
        port=1, body='    DBDParams "dbname=other"\n    ShopSalesRetention 1h'))
    assert not ok and "SHOP00034" in output, output
    assert "/extra.conf:5)" in output and "<VirtualHost> at" not in output, output
