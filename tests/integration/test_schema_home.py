"""One home for the live SQL (issue 19): migrations hold tables, indexes and
data moves; sql/functions/<name>.sql holds the live definition of each SQL
function, created or replaced by mod-shop-migrate on every run.

A fresh install and an upgrade from an older schema must end identical
(`pg_dump --schema-only`), and the old migrations, which defined the
functions inline, must give the same schema as the new layout.
"""
import re
import subprocess
import tarfile
import io

import pytest

# 04e6f0a: the first packaged release (migrations 001-003).
# c77a562: the last schema whose migrations defined functions inline.
FIRST_RELEASE = "04e6f0a"
INLINE_FUNCTIONS_RELEASE = "c77a562"

CREATE_FUNCTION = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)",
                             re.IGNORECASE | re.MULTILINE)


def _git_migrations(root, commit, dest):
    """The commit's sql/migrations/*.sql, extracted under dest; the sorted paths."""
    have = subprocess.run(["git", "-C", str(root), "cat-file", "-e", commit + "^{commit}"],
                          capture_output=True)
    if have.returncode != 0:   # a shallow clone: fetch the history once
        subprocess.run(["git", "-C", str(root), "fetch", "-q", "--unshallow"],
                       capture_output=True)
    tar = subprocess.run(["git", "-C", str(root), "archive", commit, "sql/migrations"],
                         capture_output=True)
    assert tar.returncode == 0, f"git archive {commit} failed: {tar.stderr.decode()}"
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
        t.extractall(dest)
    return sorted((dest / "sql" / "migrations").glob("*.sql"))


def _fresh_db(stack, name):
    stack.psql(f"DROP DATABASE IF EXISTS {name}")
    stack.psql(f"CREATE DATABASE {name} OWNER shop")


def _apply_old(stack, db, files):
    """The old migrate: each file once, with its schema_migrations row."""
    _psql_shop(stack, db, "CREATE TABLE schema_migrations (version text PRIMARY KEY,"
                          " applied_at timestamptz NOT NULL DEFAULT now())")
    for f in files:
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1",
                            "-h", str(stack.pgsock), "-p", "5432", "-U", "shop", "-d", db,
                            "-f", str(f), "-c",
                            f"INSERT INTO schema_migrations (version) VALUES ('{f.name}')"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"old migration {f.name} failed: {r.stderr}"


def _psql_shop(stack, db, sql):
    r = subprocess.run(["psql", "-X", "-Atq", "-v", "ON_ERROR_STOP=1", "-h", str(stack.pgsock),
                        "-p", "5432", "-U", "shop", "-d", db, "-c", sql],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"psql on {db} failed: {r.stderr}"
    return r.stdout.strip()


def _schema(stack, db):
    """pg_dump --schema-only, less its per-run \\restrict key and version line."""
    r = subprocess.run(["pg_dump", "-h", str(stack.pgsock), "-p", "5432", "-U", "postgres",
                        "--schema-only", db], capture_output=True, text=True, check=True)
    return [line for line in r.stdout.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict", "-- Dumped"))]


def _diff(a, b):
    import difflib
    return "\n".join(list(difflib.unified_diff(a, b, lineterm=""))[:60])


@pytest.fixture(scope="module")
def fresh_schema(stack):
    _fresh_db(stack, "schema_fresh")
    stack.migrate("schema_fresh")
    yield _schema(stack, "schema_fresh")
    stack.psql("DROP DATABASE IF EXISTS schema_fresh")


def test_upgrade_from_first_release_equals_fresh_install(stack, fresh_schema, tmp_path):
    _fresh_db(stack, "schema_upgrade")
    try:
        _apply_old(stack, "schema_upgrade",
                   _git_migrations(stack.root, FIRST_RELEASE, tmp_path))
        out = stack.migrate("schema_upgrade")
        assert "applying 001_core.sql" not in out, out
        assert "applying 004_relay_dead_letters.sql" in out, out
        upgraded = _schema(stack, "schema_upgrade")
        assert upgraded == fresh_schema, _diff(fresh_schema, upgraded)
    finally:
        stack.psql("DROP DATABASE IF EXISTS schema_upgrade")


def test_upgrade_from_the_inline_function_release_equals_fresh_install(stack, fresh_schema,
                                                                      tmp_path):
    """The last release whose migrations defined the functions inline
    (applied by the old migrate, file by file) upgrades to the schema a
    fresh install has.  When the functions moved out (7fbf03a) the old files
    alone gave exactly the new layout's schema; this keeps the upgrade path
    from that release honest since."""
    _fresh_db(stack, "schema_inline")
    try:
        _apply_old(stack, "schema_inline",
                   _git_migrations(stack.root, INLINE_FUNCTIONS_RELEASE, tmp_path))
        stack.migrate("schema_inline")
        upgraded = _schema(stack, "schema_inline")
        assert upgraded == fresh_schema, _diff(fresh_schema, upgraded)
    finally:
        stack.psql("DROP DATABASE IF EXISTS schema_inline")


def test_migrate_again_changes_nothing(stack, fresh_schema):
    out = stack.migrate("schema_fresh")
    assert "0 applied, schema up to date" in out, out
    assert _schema(stack, "schema_fresh") == fresh_schema


def test_every_function_lives_in_its_own_file_only(stack):
    sql = stack.root / "sql"
    homes = {}
    for f in sorted(sql.rglob("*.sql")):
        for name in CREATE_FUNCTION.findall(f.read_text()):
            homes.setdefault(name, set()).add(f.relative_to(sql).as_posix())
    assert homes, "no CREATE FUNCTION found under sql/"
    wrong = {n: sorted(fs) for n, fs in homes.items() if fs != {f"functions/{n}.sql"}}
    assert not wrong, f"functions defined outside their own file: {wrong}"
    files = {f.stem for f in (sql / "functions").glob("*.sql")}
    assert files == set(homes), f"function files without their function: {files - set(homes)}"


def test_the_live_database_has_exactly_the_functions_of_sql_functions(stack):
    """No function left behind by an old migration, none missing."""
    live = set(stack.psql("SELECT DISTINCT proname FROM pg_proc"
                          " WHERE pronamespace = 'public'::regnamespace").split())
    files = {f.stem for f in (stack.root / "sql" / "functions").glob("*.sql")}
    assert live == files
