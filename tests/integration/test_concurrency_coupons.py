"""First-come-first-served coupon issue under truly parallel requests: the
campaign issues exactly total_quantity coupons, never two to one user,
whatever the concurrency and however many httpd instances serve it."""

from collections import Counter

from shopclient import (assert_problem, bulk_users, campaign_state, issue, new_campaign, new_key,
                        new_user, ok, parallel, replayed, request, rows, until_answered,
                        until_shown)


def holders(stack, cid):
    return sorted(int(r[0]) for r in rows(stack, "SELECT user_id FROM user_coupons"
                                                 f" WHERE coupon_id = {cid}"))


def slot_holders(stack, cid):
    return sorted(int(r[0]) for r in rows(stack, "SELECT user_id FROM coupon_slots"
                                                 f" WHERE coupon_id = {cid}"
                                                 " AND user_id IS NOT NULL"))


def test_1000_users_race_for_100_coupons(stack):
    users = bulk_users(stack, 1000, "cc")
    cid = new_campaign(stack, discount_value=500, total_quantity=100)["id"]

    rs = parallel(1000, lambda i: until_answered(lambda: issue(stack, users[i], cid, timeout=60)),
                  timeout=300)

    statuses = Counter(r.status for r in rs)
    assert not [r for r in rs if r.status >= 500], statuses
    assert statuses == {201: 100, 409: 900}, statuses
    winners = []
    for u, r in zip(users, rs):
        if r.status == 201:
            assert r.json["coupon_id"] == cid and r.json["status"] == "AVAILABLE"
            assert r.headers.get("x-request-id")
            winners.append(u)
        else:
            assert_problem(r, 409, "SOLD_OUT")
    assert len({r.json["user_coupon_id"] for r in rs if r.status == 201}) == 100
    # the database agrees: 100 coupons, 100 distinct users, all slots taken
    assert int(rows(stack, f"SELECT count(*) FROM user_coupons WHERE coupon_id = {cid}")[0][0]) == 100
    assert campaign_state(stack, cid) == (100, 100, 100, 0)
    assert holders(stack, cid) == sorted(winners)
    assert slot_holders(stack, cid) == sorted(winners)
    assert rows(stack, "SELECT user_id FROM user_coupons"
                       f" WHERE coupon_id = {cid} GROUP BY user_id HAVING count(*) > 1") == []
    until_shown(lambda: ok(request("GET", f"{stack.base}/coupons/{cid}"))["remaining_quantity"],
                0, "remaining")
    # later comers: still sold out
    assert_problem(issue(stack, new_user(stack), cid), 409, "SOLD_OUT")
    assert campaign_state(stack, cid) == (100, 100, 100, 0)


def test_one_user_issuing_in_parallel_gets_one_coupon(stack):
    uid = new_user(stack)
    cid = new_campaign(stack, total_quantity=1000)["id"]

    rs = parallel(50, lambda i: until_answered(lambda: issue(stack, uid, cid, timeout=30)))

    statuses = Counter(r.status for r in rs)
    assert statuses == {201: 1, 409: 49}, statuses
    for r in rs:
        if r.status == 409:
            assert_problem(r, 409, "ALREADY_ISSUED")
    assert campaign_state(stack, cid) == (1, 1, 1, 999)
    assert holders(stack, cid) == [uid]
    assert slot_holders(stack, cid) == [uid]


def test_parallel_retries_with_one_idempotency_key_issue_once(stack):
    uid = new_user(stack)
    cid = new_campaign(stack, total_quantity=10)["id"]
    key = new_key()

    rs = parallel(30, lambda i: until_answered(lambda: issue(
        stack, uid, cid, headers={"Idempotency-Key": key}, timeout=30)))

    assert [r.status for r in rs] == [201] * 30, Counter(r.status for r in rs)
    assert len({r.body for r in rs}) == 1
    assert sum(not replayed(r) for r in rs) == 1
    assert campaign_state(stack, cid) == (1, 1, 1, 9)


def test_many_users_many_campaigns_in_parallel(stack):
    """Each of 200 users asks for each of 3 small campaigns at once."""
    users = bulk_users(stack, 200, "mc")
    quantities = [7, 30, 150]
    cids = [new_campaign(stack, total_quantity=q)["id"] for q in quantities]
    n = len(users) * len(cids)

    rs = parallel(n, lambda i: until_answered(
        lambda: issue(stack, users[i // 3], cids[i % 3], timeout=60)), timeout=300)

    assert not [r for r in rs if r.status >= 500]
    for k, (cid, q) in enumerate(zip(cids, quantities)):
        mine = rs[k::3]
        assert Counter(r.status for r in mine) == {201: q, 409: len(users) - q}
        for r in mine:
            if r.status == 409:
                assert_problem(r, 409, "SOLD_OUT")
        assert campaign_state(stack, cid) == (q, q, q, 0)


def test_two_httpd_instances_share_one_campaign_exactly(stack):
    """Two httpd instances (separate shared memory) on one database."""
    users = bulk_users(stack, 300, "two")
    cid = new_campaign(stack, total_quantity=40)["id"]
    with stack.httpd("", "coupons2") as other:
        bases = [stack.base, other.base]

        rs = parallel(300, lambda i: until_answered(
            lambda: issue(bases[i % 2], users[i], cid, timeout=60)), timeout=300)

        statuses = Counter(r.status for r in rs)
        assert statuses == {201: 40, 409: 260}, statuses
        for r in rs:
            if r.status == 409:
                assert_problem(r, 409, "SOLD_OUT")
        winners = sorted(u for u, r in zip(users, rs) if r.status == 201)
        assert campaign_state(stack, cid) == (40, 40, 40, 0)
        assert holders(stack, cid) == winners
        # both instances now answer SOLD_OUT
        for base in bases:
            assert_problem(issue(base, new_user(stack), cid), 409, "SOLD_OUT")
    assert campaign_state(stack, cid) == (40, 40, 40, 0)
