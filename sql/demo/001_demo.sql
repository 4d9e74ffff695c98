-- Demo data for `make run`.  Re-runnable: rows are only added when missing,
-- and demo balances are created through the ledger so the sum of the
-- history equals the balance.

INSERT INTO users (login)
SELECT login FROM (VALUES ('alice'), ('bob'), ('carol'), ('dave')) AS v (login)
ON CONFLICT (login) DO NOTHING;

WITH starting (login, amount) AS (VALUES ('alice', 50000), ('bob', 10000)),
charged AS (
    UPDATE users u SET balance = balance + s.amount
      FROM starting s
     WHERE u.login = s.login
       AND NOT EXISTS (SELECT 1 FROM point_history h WHERE h.user_id = u.id)
    RETURNING u.id, s.amount, u.balance
)
INSERT INTO point_history (user_id, type, amount, balance_after)
SELECT id, 'CHARGE', amount, balance FROM charged;

SELECT shop_create_product(v.name, v.price, v.stock, true)
  FROM (VALUES ('Americano', 4500, 100), ('Cafe Latte', 5000, 100),
               ('Croissant', 3800, 50), ('Cheesecake', 6500, 30),
               ('Drip Bag Set', 15000, 20), ('Mug', 12000, 10),
               ('Tumbler', 25000, 10), ('Cold Brew', 5500, 80))
       AS v (name, price, stock)
 WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.name = v.name);
