"""Products: the public list and detail (on-sale products only)."""

import uuid

import pytest

from shopclient import all_pages, assert_problem, catalog_synced, new_product, request


def list_page(stack, query=""):
    return request("GET", f"{stack.base}/products{query}")




def on_sale_ids(stack):
    return [int(x) for x in stack.psql("SELECT id FROM products WHERE on_sale ORDER BY id").split()]


def set_on_sale(stack, pid, on):
    """A psql edit, behind the module's back; returns once this httpd's
    catalog sync has read it (the contract: within 100 ms on every node)."""
    stack.psql(f"UPDATE products SET on_sale = {'true' if on else 'false'} WHERE id = {pid}")
    catalog_synced(stack)


def test_product_detail(stack):
    name = f"Detail {uuid.uuid4().hex[:6]} \u00e9\u00e8 \"q\" \\ \u2603 \U0001F600"
    pid = new_product(stack, name, 4500, 12)
    r = request("GET", f"{stack.base}/products/{pid}")
    assert r.status == 200, r
    assert r.headers["content-type"].split(";")[0].strip() == "application/json"
    assert {k: r.json[k] for k in ("id", "name", "price", "stock")} == \
        {"id": pid, "name": name, "price": 4500, "stock": 12}
    assert r.headers.get("x-request-id")


def test_product_detail_reflects_the_database(stack):
    pid = new_product(stack, "db", 100, 5)
    stack.psql(f"UPDATE products SET price = 9007199254740991 WHERE id = {pid};"
               f" SELECT shop_set_stock({pid}, 0)")
    r = request("GET", f"{stack.base}/products/{pid}")
    assert r.status == 200, r
    assert (r.json["price"], r.json["stock"]) == (9007199254740991, 0)


@pytest.mark.parametrize("bad", ["abc", "-1", "0", "99999999999999999999", "1.5", "%20"])
def test_bad_product_id_is_404(stack, bad):
    assert_problem(request("GET", f"{stack.base}/products/{bad}"), 404, "PRODUCT_NOT_FOUND")


def test_unknown_product_is_404(stack):
    missing = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM products"))
    assert_problem(request("GET", f"{stack.base}/products/{missing}"), 404, "PRODUCT_NOT_FOUND")


def test_product_not_on_sale_is_hidden(stack):
    pid = new_product(stack, "hidden", 100, 5)
    assert request("GET", f"{stack.base}/products/{pid}").status == 200
    set_on_sale(stack, pid, False)
    assert_problem(request("GET", f"{stack.base}/products/{pid}"), 404, "PRODUCT_NOT_FOUND")
    assert pid not in [p["id"] for p in all_pages(f"{stack.base}/products", 100)[0]]
    set_on_sale(stack, pid, True)
    assert request("GET", f"{stack.base}/products/{pid}").status == 200
    assert pid in [p["id"] for p in all_pages(f"{stack.base}/products", 100)[0]]


def test_list_has_every_on_sale_product_once_in_id_order(stack):
    mine = [new_product(stack, f"list{i}", 1000 + i, i) for i in range(5)]
    set_on_sale(stack, mine[2], False)
    expected = on_sale_ids(stack)
    assert mine[2] not in expected
    for limit in (1, 3, 20, 100):
        items, pages = all_pages(f"{stack.base}/products", limit)
        assert [p["id"] for p in items] == expected, f"limit={limit}"
        assert pages == -(-len(expected) // limit), f"limit={limit}"
    items, _ = all_pages(f"{stack.base}/products", 100)
    by_id = {p["id"]: p for p in items}
    for i, pid in enumerate(mine):
        if i == 2:
            continue
        p = by_id[pid]
        assert {"id", "name", "price", "stock"} <= set(p), p
        assert (p["name"], p["price"], p["stock"]) == (f"list{i}", 1000 + i, i)


def test_list_default_limit_is_20(stack):
    while len(on_sale_ids(stack)) <= 20:
        new_product(stack, "filler", 1, 1)
    r = list_page(stack)
    assert r.status == 200, r
    assert [p["id"] for p in r.json["items"]] == on_sale_ids(stack)[:20]
    assert isinstance(r.json["next_cursor"], str)


def test_page_after_the_last_product_is_200_with_empty_items(stack):
    p1 = new_product(stack, "second to last", 1, 1)
    p2 = new_product(stack, "last", 1, 1)
    # walk one product per page to the cursor that follows p1
    query, cur = "?limit=1", None
    for _ in range(10000):
        r = list_page(stack, query)
        assert r.status == 200, r
        if [p["id"] for p in r.json["items"]] == [p1]:
            cur = r.json["next_cursor"]
            break
        assert r.json["next_cursor"] is not None, "p1 not in the list"
        query = f"?limit=1&cursor={r.json['next_cursor']}"
    assert cur is not None
    r = list_page(stack, f"?limit=1&cursor={cur}")
    assert [p["id"] for p in r.json["items"]] == [p2]
    set_on_sale(stack, p2, False)
    r = list_page(stack, f"?limit=5&cursor={cur}")
    assert r.status == 200, r
    assert r.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=-5", "?limit=x",
                                   "?limit=2.0", "?cursor=garbage", "?cursor=%00%01"])
def test_list_bad_limit_or_cursor_is_400(stack, query):
    assert_problem(list_page(stack, query), 400, "INVALID_REQUEST")
