"""Concurrent charges: no lost update, no overshoot of the maximum balance."""

import os
import random

from shopclient import assert_problem, charge, ledger, new_user, parallel

CHARGE_MAX = 1_000_000
BALANCE_MAX = 10_000_000


def history_chain(stack, uid):
    """[(amount, balance_after)] of a user's history, oldest first."""
    out = stack.psql(f"SELECT amount, balance_after FROM point_history"
                     f" WHERE user_id = {uid} ORDER BY id")
    return [tuple(int(x) for x in line.split("|")) for line in out.splitlines()]


def assert_serial_chain(start, chain):
    """Each row's balance_after is the previous one plus its amount."""
    bal = start
    for amount, after in chain:
        bal += amount
        assert after == bal, chain


def test_240_parallel_charges_to_one_user(stack):
    seed = int(os.environ.get("SHOP_TEST_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    uid = new_user(stack)
    initial = 123_456
    assert charge(stack, uid, initial).status == 200
    n = 240
    # mean ~45k: the total (~11M) crosses the 10M maximum, so some charges are
    # refused with 409 while most succeed
    amounts = [rnd.randint(1_000, 90_000) for _ in range(n)]

    rs = parallel(n, lambda i: charge(stack, uid, amounts[i]), timeout=120)

    statuses = [r.status for r in rs]
    assert all(s < 500 for s in statuses), f"seed={seed} 5xx: {[r for r in rs if r.status >= 500]}"
    ok = [(amounts[i], r) for i, r in enumerate(rs) if r.status == 200]
    for r in rs:
        if r.status != 200:
            assert_problem(r, 409, "BALANCE_LIMIT_EXCEEDED")
    assert ok, f"seed={seed}"

    charged = sum(a for a, _ in ok)
    bal, rows, total = ledger(stack, uid)
    assert bal == initial + charged, f"seed={seed}"
    assert total == bal and rows == 1 + len(ok), f"seed={seed}"
    assert bal <= BALANCE_MAX

    # The successful answers describe one serial order: sorted by the balance
    # they report, each is the previous balance plus its own amount.
    prev = initial
    for amount, r in sorted(ok, key=lambda x: x[1].json["balance"]):
        assert r.json["charged"] == amount and r.json["user_id"] == uid
        assert r.json["balance"] == prev + amount, f"seed={seed}"
        prev = r.json["balance"]
    assert prev == bal
    chain = history_chain(stack, uid)
    assert_serial_chain(0, chain)
    # every refused charge really did not fit at some point: with the final
    # balance, at least the smallest refused amount does not fit now
    refused = [amounts[i] for i, r in enumerate(rs) if r.status == 409]
    if refused:
        assert bal + min(refused) > BALANCE_MAX, f"seed={seed}"


def test_racing_charges_never_pass_the_maximum_balance(stack):
    uid = new_user(stack)
    for _ in range(9):
        assert charge(stack, uid, CHARGE_MAX).status == 200
    assert charge(stack, uid, CHARGE_MAX - 5_000).status == 200
    assert ledger(stack, uid)[0] == BALANCE_MAX - 5_000

    rs = parallel(100, lambda i: charge(stack, uid, 1_000))

    ok = [r for r in rs if r.status == 200]
    assert len(ok) == 5, [r.status for r in rs]
    for r in rs:
        if r.status != 200:
            assert_problem(r, 409, "BALANCE_LIMIT_EXCEEDED")
    assert sorted(r.json["balance"] for r in ok) == [BALANCE_MAX - 4_000 + 1_000 * k
                                                     for k in range(5)]
    assert ledger(stack, uid) == (BALANCE_MAX, 15, BALANCE_MAX)
    assert_serial_chain(0, history_chain(stack, uid))


def test_parallel_charges_to_many_users_keep_each_balance(stack):
    users = [new_user(stack) for _ in range(8)]
    n = 96

    rs = parallel(n, lambda i: charge(stack, users[i % len(users)], 10 + i))

    assert [r.status for r in rs] == [200] * n, rs
    for k, uid in enumerate(users):
        expected = sum(10 + i for i in range(n) if i % len(users) == k)
        assert ledger(stack, uid) == (expected, n // len(users), expected)
        assert_serial_chain(0, history_chain(stack, uid))
