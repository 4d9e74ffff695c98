#!/usr/bin/env bash
# tests/package/test_migrate.sh: mod-shop-migrate against a throwaway
# PostgreSQL cluster, with the least-privilege roles of docs/deploy.md.
#
#   tests/package/test_migrate.sh                 tests scripts/mod-shop-migrate
#   MOD_SHOP_MIGRATE=/usr/sbin/mod-shop-migrate tests/package/test_migrate.sh
#                                                 tests an installed one
#
# Needs root (the cluster runs as postgres) and postgresql-15. Starts its own
# cluster with scripts/shopctl in a fresh temporary SHOP_STATE (Unix socket
# only, no TCP), and stops exactly that postmaster by PID on exit.
# Exits non-zero on the first failed check.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
MIGRATE=${MOD_SHOP_MIGRATE:-$ROOT/scripts/mod-shop-migrate}
SQL_DIR=${MOD_SHOP_SQL_DIR:-$ROOT/sql}
DEPLOY_MD=$ROOT/docs/deploy.md

pass=0
ok()   { pass=$((pass + 1)); printf 'ok %d - %s\n' "$pass" "$*"; }
fail() { printf 'not ok - %s\n' "$*" >&2; exit 1; }

((EUID == 0)) || fail "run as root (the throwaway cluster runs as postgres)"
[[ -x $MIGRATE ]] || fail "$MIGRATE is not executable"

STATE=$(mktemp -d /tmp/shop-pkgtest.XXXXXX)
SOCK=$STATE/pgsock
PG_PID=""

pid_running() {  # alive and not a zombie
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}
cleanup() {
    local rc=$?
    if [[ -n $PG_PID ]] && pid_running "$PG_PID"; then
        kill -INT "$PG_PID" 2>/dev/null || true      # fast shutdown
        for _ in $(seq 1 600); do pid_running "$PG_PID" || break; sleep 0.1; done
        pid_running "$PG_PID" && printf 'warning: postgres pid %s still running\n' "$PG_PID" >&2
    fi
    rm -rf "$STATE"
    exit "$rc"
}
trap cleanup EXIT

SHOP_STATE=$STATE SHOP_NO_DEMO=1 "$ROOT/scripts/shopctl" pg-start --no-migrate >"$STATE/pg-start.log" 2>&1 \
    || { cat "$STATE/pg-start.log" >&2; fail "could not start the throwaway cluster"; }
PG_PID=$(head -n 1 "$STATE/pg/postmaster.pid")
[[ $PG_PID =~ ^[0-9]+$ ]] && pid_running "$PG_PID" || fail "no postmaster pid"
ok "throwaway cluster up (pid $PG_PID, socket $SOCK)"

psql_as() {  # psql_as ROLE DB [psql args...]
    local role=$1 db=$2; shift 2
    PGOPTIONS='-c client_min_messages=warning' \
        psql -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -U "$role" -d "$db" "$@"
}
. "$ROOT/tests/package/lib.sh"     # doc_sql

# shopctl created a role and database "shop" for the dev stack; the doc's
# setup creates its own, from scratch.
psql_as postgres postgres -c 'DROP DATABASE shop' -c 'DROP ROLE shop'

sql=$(doc_sql superuser)
[[ $sql == *"ALTER DEFAULT PRIVILEGES"* ]] || fail "superuser block not found in $DEPLOY_MD"
psql_as postgres postgres <<<"$sql" || fail "the superuser block of deploy.md failed"
ok "deploy.md superuser block: roles shop_owner/shop, database shop"

OWNER_DSN="host=$SOCK dbname=shop user=shop_owner"
RUN_DSN="host=$SOCK dbname=shop user=shop"
out=""
run() {  # run ARGS...: $out = combined output, $rc = exit status
    set +e
    out=$("$MIGRATE" "$@" 2>&1)
    rc=$?
    set -e
}
expect_rc() { [[ $rc == "$1" ]] || { printf '%s\n' "$out" >&2; fail "$2: exit $rc, expected $1"; }; }
expect_out() { grep -qF -- "$1" <<<"$out" || { printf '%s\n' "$out" >&2; fail "$2: no '$1' in the output"; }; }
expect_no_out() { ! grep -qF -- "$1" <<<"$out" || { printf '%s\n' "$out" >&2; fail "$2: unexpected '$1'"; }; }
count_rows() { psql_as shop_owner shop -c "SELECT count(*) FROM schema_migrations"; }
regclass() { psql_as shop_owner shop -c "SELECT coalesce(to_regclass('$1')::text, '')"; }

# --- usage --------------------------------------------------------------------
run --help;                     expect_rc 0 "--help"; expect_out "--from-apache-conf" "--help"
run;                            expect_rc 2 "no arguments"
run --bogus;                    expect_rc 2 "unknown option"
run --dsn "$OWNER_DSN" --from-apache-conf /dev/null; expect_rc 2 "--dsn and --from-apache-conf"
run --dsn "$OWNER_DSN" --sql-dir "$STATE/nonexistent"; expect_rc 1 "missing --sql-dir"
run --dsn "host=$SOCK dbname=shop user=nosuchrole" --sql-dir "$SQL_DIR"
expect_rc 1 "bad role"; expect_out "cannot connect" "bad role"
ok "usage errors exit 2, a bad directory or connection exits 1"

# --- dry run on an empty database ----------------------------------------------
nfiles=$(find "$SQL_DIR/migrations" -maxdepth 1 -name '*.sql' | wc -l)
((nfiles > 0)) || fail "no migrations in $SQL_DIR/migrations"
nfunctions=$(find "$SQL_DIR/functions" -maxdepth 1 -name '*.sql' | wc -l)
((nfunctions > 0)) || fail "no functions in $SQL_DIR/functions"
run --dsn "$OWNER_DSN" --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "dry run"; expect_out "would apply 001_core.sql" "dry run"
expect_out "$nfiles would be applied" "dry run"
[[ -z $(regclass schema_migrations) ]] || fail "dry run created schema_migrations"
ok "--dry-run lists $nfiles migrations and creates nothing"

# --- apply, then apply again ------------------------------------------------------
run --dsn "$OWNER_DSN" --sql-dir "$SQL_DIR"
expect_rc 0 "first run"; expect_out "applying 001_core.sql" "first run"
expect_out "$nfiles applied, schema up to date" "first run"
expect_out "$nfunctions function files applied" "first run"
[[ $(count_rows) == "$nfiles" ]] || fail "schema_migrations has $(count_rows) rows, expected $nfiles"
[[ $(psql_as shop_owner shop -c "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'") == shop_owner ]] \
    || fail "orders is not owned by shop_owner"
ok "first run applies $nfiles migrations, owned by shop_owner"

# deploy.md §3 shows a first run's output and the SCHEMA_MISMATCH detail of an
# empty database: both go stale with every migration unless checked here.
migrate_lines() { grep -E '^mod-shop-migrate: (applying|[0-9]+ )' | sed -E 's# from /.*##'; }
doc_lines=$(migrate_lines <"$DEPLOY_MD")
[[ $doc_lines == "$(migrate_lines <<<"$out")" ]] ||
    { diff <(echo "$doc_lines") <(migrate_lines <<<"$out") >&2; fail "deploy.md §3's sample output is not a first run's (< doc, > run)"; }
grep -qF "module needs $nfiles)" "$DEPLOY_MD" || fail "deploy.md's SCHEMA_MISMATCH sample does not say the module needs $nfiles"
ok "deploy.md §3 shows what a first run prints ($nfiles migrations, $nfunctions function files)"

run --dsn "$OWNER_DSN" --sql-dir "$SQL_DIR"
expect_rc 0 "second run"; expect_out "0 applied, schema up to date" "second run"
expect_no_out "applying" "second run"
expect_out "$nfunctions function files applied" "second run"
[[ $(count_rows) == "$nfiles" ]] || fail "second run changed schema_migrations"
ok "second run applies nothing"

# --- the runtime role: deploy.md's after-migrate block, then what it may do --------
sql=$(doc_sql after-migrate)
[[ $sql == *"GRANT"* ]] || fail "after-migrate block not found in $DEPLOY_MD"
psql_as shop_owner shop <<<"$sql" || fail "the after-migrate block of deploy.md failed"
psql_as shop shop >/dev/null <<'EOF' || fail "runtime role shop cannot take and pay an order"
INSERT INTO users (login, balance) VALUES ('alice', 10000);
SELECT shop_create_product('pen', 1000, 5, true);
SELECT outcome FROM shop_create_order((SELECT id FROM users WHERE login = 'alice'),
       ARRAY[(SELECT id FROM products WHERE name = 'pen')], ARRAY[2::bigint], interval '10 minutes');
SELECT outcome FROM shop_pay_order((SELECT id FROM users WHERE login = 'alice'),
       (SELECT max(id) FROM orders), NULL);
SELECT 1 FROM sales LIMIT 1;
EOF
[[ $(psql_as shop shop -c "SELECT status FROM orders ORDER BY id DESC LIMIT 1") == PAID ]] \
    || fail "the runtime role's order is not PAID"
set +e
psql_as shop shop -c 'CREATE TABLE intruder (id int)' >/dev/null 2>&1; c1=$?
psql_as shop shop -c "DELETE FROM schema_migrations" >/dev/null 2>&1; c2=$?
psql_as shop shop -c 'DROP TABLE orders' >/dev/null 2>&1; c3=$?
set -e
((c1 != 0)) || fail "runtime role shop could create a table"
((c2 != 0)) || fail "runtime role shop could delete from schema_migrations"
((c3 != 0)) || fail "runtime role shop could drop a table"
run --dsn "$RUN_DSN" --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "dry run as the runtime role"; expect_out "0 would be applied" "dry run as the runtime role"
ok "runtime role: orders and payment work; CREATE/DROP and schema_migrations writes are refused"

# --- a failing run applies nothing ---------------------------------------------------
# (a directory of migrations alone: the functions/ beside it are used)
BAD=$STATE/sql-bad/migrations
mkdir -p "$BAD"
cp "$SQL_DIR"/migrations/*.sql "$BAD/"
cp -r "$SQL_DIR/functions" "$STATE/sql-bad/functions"
cat >"$BAD/900_good.sql" <<'EOF'
CREATE TABLE t900 (id int);
EOF
cat >"$BAD/901_bad.sql" <<'EOF'
CREATE TABLE t901 (id int);
INSERT INTO t901 VALUES (1);
ALTER TABLE users ADD COLUMN t901_col int;
SELECT no_such_function();
EOF
cat >"$BAD/902_after.sql" <<'EOF'
CREATE TABLE t902 (id int);
EOF
run --dsn "$OWNER_DSN" --sql-dir "$BAD"
expect_rc 1 "failing migration"; expect_out "applying 900_good.sql" "failing migration"
expect_out "applying 901_bad.sql" "failing migration"; expect_out "901_bad.sql:4: ERROR" "failing migration"
expect_out "nothing was applied" "failing migration"
[[ -z $(regclass t900) ]] || fail "900_good.sql (in the failed run) was left behind"
[[ -z $(regclass t901) ]] || fail "901_bad.sql left its table behind"
[[ -z $(psql_as shop_owner shop -c "SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 't901_col'") ]] \
    || fail "901_bad.sql left its column behind"
[[ -z $(regclass t902) ]] || fail "902_after.sql ran after a failure"
[[ -z $(psql_as shop_owner shop -c "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations WHERE version >= '9'") ]] \
    || fail "schema_migrations records versions of a failed run"
ok "a failing migration rolls back the whole run: its own, the ones before it and the functions"

printf 'SELECT 1;\n' >"$BAD/901_bad.sql"
run --dsn "$OWNER_DSN" --sql-dir "$BAD"
expect_rc 0 "after the fix"; expect_out "applying 901_bad.sql" "after the fix"
expect_out "applying 902_after.sql" "after the fix"; expect_out "3 applied, schema up to date" "after the fix"
ok "after the fix, the next run applies the rest"

run --dsn "$OWNER_DSN" --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "database ahead of the files"; expect_out "warning: the database has migration 902_after.sql" "database ahead"
ok "versions recorded but missing from --sql-dir are reported"

# --- --from-apache-conf and --user ------------------------------------------------
CONF=$STATE/site.conf
cat >"$CONF" <<EOF
<VirtualHost 127.0.0.1:8080>
    # DBDParams "host=/nonexistent dbname=nope"
    DBDriver pgsql
	dbdparams   "$RUN_DSN password=x"   
    DBDParams "host=/nonexistent dbname=second"
</VirtualHost>
EOF
run --from-apache-conf "$CONF" --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "--from-apache-conf"; expect_out "database shop as shop," "--from-apache-conf"
run --from-apache-conf "$CONF" --user shop_owner --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "--from-apache-conf --user"; expect_out "database shop as shop_owner," "--from-apache-conf --user"
printf 'DBDParams %s\n' "$RUN_DSN" >"$CONF"
run --from-apache-conf "$CONF" --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "unquoted DBDParams"; expect_out "database shop as shop," "unquoted DBDParams"
printf 'ServerName x\n' >"$CONF"
run --from-apache-conf "$CONF"; expect_rc 1 "no DBDParams"; expect_out "no DBDParams" "no DBDParams"
ok "--from-apache-conf takes the first uncommented DBDParams (quoted or not); --user overrides its user"

# With --user, the site's password (the runtime role's) must not be sent as
# the owner's: the owner's comes from PGPASSWORD or ~/.pgpass (issue 22).
# The throwaway cluster trusts local connections; shop_owner gets a password
# and scram-sha-256 for this part (first pg_hba line wins; rewritten in
# place so that the file stays postgres's).
HBA=$STATE/pg/pg_hba.conf
hba_was=$(cat "$HBA")
printf 'local shop shop_owner scram-sha-256\n%s\n' "$hba_was" >"$HBA"
psql_as postgres postgres -c "ALTER ROLE shop_owner PASSWORD 'owner-secret'" -c 'SELECT pg_reload_conf()' >/dev/null
printf '<VirtualHost *:80>\n    DBDParams "%s password=runtime-secret sslmode=disable"\n</VirtualHost>\n' \
    "$RUN_DSN" >"$CONF"
set +e; out=$(PGPASSWORD=owner-secret psql -X -At -h "$SOCK" -U shop_owner -d shop -c 'SELECT 1' 2>&1); rc=$?; set -e
expect_rc 0 "shop_owner with its password (scram)"
set +e; out=$(PGPASSWORD=wrong psql -X -At -h "$SOCK" -U shop_owner -d shop -c 'SELECT 1' 2>&1); rc=$?; set -e
expect_rc 2 "shop_owner with a wrong password"    # the check below can fail, then
export PGPASSWORD=owner-secret
run --from-apache-conf "$CONF" --user shop_owner --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "--user with PGPASSWORD, the site has password="; expect_out "database shop as shop_owner," "PGPASSWORD"
unset PGPASSWORD
printf '*:*:shop:shop_owner:owner-secret\n' >"$STATE/pgpass"; chmod 600 "$STATE/pgpass"
PGPASSFILE=$STATE/pgpass run --from-apache-conf "$CONF" --user shop_owner --sql-dir "$SQL_DIR" --dry-run
expect_rc 0 "--user with ~/.pgpass, the site has password="; expect_out "database shop as shop_owner," ".pgpass"
run --from-apache-conf "$CONF" --user shop_owner --sql-dir "$SQL_DIR" --dry-run
expect_rc 1 "--user without the owner's password"; expect_out "password" "no password"
printf '%s\n' "$hba_was" >"$HBA"
psql_as postgres postgres -c "ALTER ROLE shop_owner PASSWORD NULL" -c 'SELECT pg_reload_conf()' >/dev/null
ok "--user drops the site's password=: PGPASSWORD and .pgpass give the owner's"

printf '# %d checks passed\n' "$pass"
