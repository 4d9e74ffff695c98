"""Coupon issues in batches (issue 20): a child claims the issues that
arrived while its previous batch ran in one transaction
(shop_issue_coupons), answers each request with its own outcome, and
passes what a batch cannot answer exactly to the single issue.

The database's word for "one transaction": rows a transaction writes share
its xmin."""

from collections import Counter

import pytest

from shopclient import (assert_problem, bulk_users, campaign_state, issue, new_campaign,
                        new_user, parallel, rows, scalar, until_answered)


def transactions(stack, cid):
    """How many transactions wrote the campaign's user coupons."""
    return scalar(stack, "SELECT count(DISTINCT xmin::text) FROM user_coupons"
                         f" WHERE coupon_id = {cid}")


def stripes_sum(stack, cid):
    return scalar(stack, "SELECT coalesce(sum(issued), 0) FROM coupon_issued"
                         f" WHERE coupon_id = {cid}")


def race(inst, users, cid):
    """Every user issues once, all at once, through inst (a stack or an httpd)."""
    return parallel(len(users), lambda i: until_answered(
        lambda: issue(inst, users[i], cid, timeout=60)), timeout=300)


def test_parallel_issues_share_transactions_and_stay_exact(stack):
    users = bulk_users(stack, 400, "batch")
    cid = new_campaign(stack, total_quantity=300)["id"]

    rs = race(stack, users, cid)

    statuses = Counter(r.status for r in rs)
    assert statuses == {201: 300, 409: 100}, statuses
    for r in rs:
        if r.status == 201:
            assert r.json["coupon_id"] == cid and r.json["status"] == "AVAILABLE"
        else:
            assert_problem(r, 409, "SOLD_OUT")
    assert campaign_state(stack, cid) == (300, 300, 300, 0)
    assert stripes_sum(stack, cid) == 300
    # fewer commits than coupons: requests did share transactions
    assert transactions(stack, cid) < 300


@pytest.fixture(scope="module", params=["ShopIssueBatch 1", "ShopBusyWait 0"])
def unbatched(stack, request):
    """ShopIssueBatch 1 turns batching off; with ShopBusyWait 0 a queue for a
    batch could not be waited in, so every issue goes alone too."""
    name = request.param.split()[0].lower()
    with stack.httpd(request.param + "\n", name) as inst:
        yield inst


def test_unbatched_every_issue_is_its_own_transaction(stack, unbatched):
    users = bulk_users(stack, 120, "alone")
    cid = new_campaign(stack, total_quantity=100)["id"]

    rs = race(unbatched, users, cid)

    assert Counter(r.status for r in rs) == {201: 100, 409: 20}
    assert campaign_state(stack, cid) == (100, 100, 100, 0)
    assert transactions(stack, cid) == 100


def outcomes(stack, pairs):
    users = ",".join(str(u) for u, _ in pairs)
    coupons = ",".join(str(c) for _, c in pairs)
    return [o for _, o in sorted(
        (int(i), o) for i, o in rows(stack, "SELECT i, outcome FROM shop_issue_coupons("
                                            f"'{{{users}}}'::bigint[], '{{{coupons}}}'::bigint[])"))]


def test_a_batch_answers_what_it_can_and_passes_on_the_rest(stack):
    cid = new_campaign(stack, total_quantity=2)["id"]
    other = new_campaign(stack, total_quantity=5)["id"]
    later = new_campaign(stack, total_quantity=5,
                         issue_starts_at="2099-01-01T00:00:00Z",
                         issue_ends_at="2099-02-01T00:00:00Z")["id"]
    a, b, c, d = (new_user(stack) for _ in range(4))

    got = outcomes(stack, [(a, cid), (a, cid), (99_999_999, cid), (b, 99_999_999),
                           (c, later), (b, other), (c, cid), (d, cid)])

    # a's second pair sees its first (one transaction); the campaign's two
    # slots go to a and c; d finds none free: only a claim that waits may say
    # SOLD_OUT, so d is passed on, as are a missing and a future campaign
    assert got == ["OK", "ALREADY_ISSUED", "USER_NOT_FOUND", "UNDECIDED",
                   "UNDECIDED", "OK", "OK", "UNDECIDED"]
    assert campaign_state(stack, cid) == (2, 2, 2, 0)
    assert stripes_sum(stack, cid) == 2 and stripes_sum(stack, other) == 1
    assert stripes_sum(stack, later) == 0
    # the request passed on gets the contract's answer alone
    assert_problem(issue(stack, d, cid), 409, "SOLD_OUT")
    assert_problem(issue(stack, c, later), 422, "COUPON_NOT_ISSUABLE")
    assert_problem(issue(stack, b, 99_999_999), 404, "COUPON_NOT_FOUND")
