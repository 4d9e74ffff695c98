-- shop_catalog_changed: the live definition (sql/functions/README.md says how these files are applied).

-- The catalog change log's writer (sql/migrations/011_catalog_changes.sql):
-- after every statement that inserts, updates or deletes products or
-- coupons, one row per changed id, or one row for the whole kind when the
-- statement changed more than 256 rows (a bulk load or a mass price change:
-- the nodes flush that kind instead of reading thousands of ids).
-- TG_ARGV[0] is the kind.  Statement-level with transition tables, so a
-- bulk statement costs one trigger call, not one per row.
CREATE OR REPLACE FUNCTION shop_catalog_changed() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT o.id FROM old_rows o);
    ELSE
        ids := ARRAY(SELECT n.id FROM new_rows n);
    END IF;
    IF cardinality(ids) > 256 THEN
        INSERT INTO catalog_changes (kind, id) VALUES (TG_ARGV[0], NULL);
    ELSIF cardinality(ids) > 0 THEN
        INSERT INTO catalog_changes (kind, id) SELECT TG_ARGV[0], unnest(ids);
    END IF;
    RETURN NULL;
END
$$;

-- One trigger per event: a trigger with transition tables has one event.
CREATE OR REPLACE TRIGGER products_catalog_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('product');
CREATE OR REPLACE TRIGGER products_catalog_update AFTER UPDATE ON products
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('product');
CREATE OR REPLACE TRIGGER products_catalog_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('product');
CREATE OR REPLACE TRIGGER coupons_catalog_insert AFTER INSERT ON coupons
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('coupon');
CREATE OR REPLACE TRIGGER coupons_catalog_update AFTER UPDATE ON coupons
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('coupon');
CREATE OR REPLACE TRIGGER coupons_catalog_delete AFTER DELETE ON coupons
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed('coupon');
