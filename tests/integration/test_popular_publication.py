"""Issue 26: the popular ranking's publication through graceful restarts.

An httpd with ShopPopularRefresh 100ms and the largest ranking allowed
(ShopPopularTopN 100; names of 160 Hangul syllables, which the JSON escapes
as \\uXXXX, so a body is about 105 KB of the 128 KiB block) is restarted
gracefully (SIGUSR1) over and over while its sales keep changing, so the
old and the new jobs process publish into the ranking around every
restart, and mod_slotmem_shm saves and restores the block each time.
Meanwhile clients GET /products/popular without pause.  Every body must
be one whole published ranking: valid JSON, ranks 1..n in (sold desc, id
asc) order, every fixture product under its own name.  (Two bodies with the same
generated_at may differ: it has whole seconds, the refresh is 100 ms.)

Not done: holding the adopt query back through pgproxy.py.  The proxy
forwards or cuts whole connections; delaying one statement would need it
to parse the PostgreSQL protocol.  The unit tests stall and kill writers
at each step through the writer hook instead (tests/unit/test_popular.c).
"""
import json
import os
import signal
import threading
import time

from shopclient import request

TOP_N = 100
CONF = f"ShopPopularRefresh 100ms\nShopPopularTopN {TOP_N}\nShopPopularWindow 1h\n"
NAME_CHARS = 160


def hangul_name(i):
    # distinct per product, 160 characters, each escaped as 6 bytes
    return "".join(chr(0xAC00 + (i * 7 + k) % 11172) for k in range(NAME_CHARS))


def make_products(stack, n):
    values = ",".join(f"('{hangul_name(i)}', 100, 1000000)" for i in range(n))
    out = stack.psql("SELECT (shop_create_product(n, p, s, true)).id"
                     f" FROM (VALUES {values}) AS v (n, p, s)")
    ids = [int(x) for x in out.split() if x.isdigit()][:n]
    assert len(ids) == n
    return ids


def sell(stack, uid, pids, base):
    """One PAID order per product: product k sells base + k more."""
    for k, pid in enumerate(pids):
        qty = base + k
        stack.psql(
            "WITH o AS (INSERT INTO orders (user_id, status, total_amount, paid_amount,"
            " created_at, paid_at) VALUES"
            f" ({uid}, 'PAID', {qty * 100}, {qty * 100}, now(), now()) RETURNING id)"
            " INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
            f" SELECT id, {pid}, {qty}, 100 FROM o")


def check_body(body, names, seen_at):
    doc = json.loads(body)                      # a torn body does not parse
    assert set(doc) == {"window_days", "generated_at", "items"}, doc.keys()
    items = doc["items"]
    if doc["generated_at"] is None:
        assert items == []
        return 0
    assert len(items) <= TOP_N
    for i, it in enumerate(items):
        assert it["rank"] == i + 1
        if it["product_id"] in names:
            assert it["name"] == names[it["product_id"]], it["product_id"]
    for a, b in zip(items, items[1:]):
        assert (-a["sold_quantity"], a["product_id"]) < (-b["sold_quantity"], b["product_id"])
    # generated_at has whole seconds and the ranking is refreshed every
    # 100 ms: several rankings may share one, so no equality is asked here.
    seen_at.setdefault(doc["generated_at"], set()).add(body)
    return len(body)


def test_every_body_is_one_whole_ranking_through_graceful_restarts(stack):
    pids = make_products(stack, TOP_N)
    names = {pid: hangul_name(i) for i, pid in enumerate(pids)}
    uid = int(stack.psql("INSERT INTO users (login) VALUES ('pubtest-%d') RETURNING id"
                         % int(time.time() * 1000)).split()[0])
    sell(stack, uid, pids, 5000)
    try:
        with stack.httpd(CONF, "publication") as inst:
            stop = threading.Event()
            errors, counts, sizes = [], {"bodies": 0, "full": 0}, []
            seen_at = {}
            lock = threading.Lock()

            def client():
                while not stop.is_set():
                    try:
                        r = request("GET", f"{inst.base}/products/popular", timeout=10)
                        assert r.status == 200, r.status
                        with lock:
                            n = check_body(r.body, names, seen_at)
                            counts["bodies"] += 1
                            if n:
                                sizes.append(n)
                                counts["full"] += 1
                    except Exception as e:          # collected, reported below
                        with lock:
                            errors.append(repr(e))
                        stop.set()

            def seller():
                base = 6000
                while not stop.is_set():
                    sell(stack, uid, pids[:10], base)
                    base += 100
                    time.sleep(0.15)

            threads = [threading.Thread(target=client) for _ in range(3)]
            threads.append(threading.Thread(target=seller))
            for t in threads:
                t.start()
            try:
                for _ in range(10):
                    if stop.is_set():
                        break
                    os.kill(inst.pid, signal.SIGUSR1)       # graceful restart
                    time.sleep(0.8)
            finally:
                stop.set()
                for t in threads:
                    t.join(30)
            assert not errors, errors[:3]
            assert counts["full"] > 0, counts
            assert max(sizes) > 100_000, max(sizes)       # the big ranking was served
            assert len(seen_at) > 3, len(seen_at)         # it was republished meanwhile
            print(f"{counts['bodies']} bodies, {counts['full']} rankings,"
                  f" {len(seen_at)} distinct, largest {max(sizes)} bytes")
    finally:
        stack.psql("UPDATE products SET on_sale = false WHERE id IN ("
                   + ",".join(map(str, pids)) + ")")
