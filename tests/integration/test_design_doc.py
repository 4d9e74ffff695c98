"""docs/design.md names every source file of the module and of the schema, and
only files that exist (issue 19): every mod_shop/*.c and every sql/**/*.sql
(migrations, functions, demo) by its file name, and no mod_shop*.c, shop_*.c,
.h or sql file that is not there. No server needed: the tree and the document
are read as files."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "design.md"
C_FILES = sorted(p.name for p in (ROOT / "mod_shop").glob("*.c"))
H_FILES = sorted(p.name for p in (ROOT / "mod_shop").glob("*.h"))
SQL_FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "sql").rglob("*.sql"))

# A file name in running text: not part of a longer name on either side
# ("mod_shop.c" is not in "mod_shop.conf", "shop_ts.sql" not in "xshop_ts.sql").
# A directory in front ("sql/functions/", "mod_shop/") is allowed.
BEFORE = r"(?<![\w.-])"
AFTER = r"(?![\w-])"


def doc_text():
    return DOC.read_text(encoding="utf-8")


def named(text, name):
    return re.search(BEFORE + re.escape(name) + AFTER, text) is not None


def mentions(text, name_pattern):
    """(directory or '', file name) of each mention matching name_pattern."""
    return {(m.group(1) or "", m.group(2)) for m in re.finditer(
        r"(?<![\w.-])((?:[\w.-]+/)*)(" + name_pattern + r")" + AFTER, text)}


def test_the_tree_is_read():
    assert "mod_shop.c" in C_FILES and "mod_shop_tx.c" in C_FILES, C_FILES
    assert len(C_FILES) >= 30, C_FILES
    assert any(f.startswith("sql/migrations/") for f in SQL_FILES), SQL_FILES
    assert any(f.startswith("sql/functions/") for f in SQL_FILES), SQL_FILES
    assert any(f.startswith("sql/demo/") for f in SQL_FILES), SQL_FILES


@pytest.mark.parametrize("name", C_FILES)
def test_every_c_file_is_named(name):
    assert named(doc_text(), name), f"docs/design.md does not name mod_shop/{name}"


@pytest.mark.parametrize("path", SQL_FILES)
def test_every_sql_file_is_named(path):
    name = Path(path).name
    assert named(doc_text(), name), f"docs/design.md does not name {path}"


def test_no_c_or_header_file_named_that_does_not_exist():
    """Every mod_shop*.c/.h and shop_*.c/.h the document names is in mod_shop/
    (names under another directory, tests/unit/test_x.c say, are not the
    module's)."""
    missing = sorted(
        f"{d}{n}" for d, n in mentions(doc_text(), r"(?:mod_)?shop(?:_\w+)?\.[ch]")
        if d in ("", "mod_shop/") and n not in C_FILES + H_FILES)
    assert not missing, f"docs/design.md names files that do not exist: {missing}"


def test_no_sql_file_named_that_does_not_exist():
    """Every sql file the document names is under sql/: a path under sql/
    must exist as written; a bare name must be the name of one of them
    (bench/ and other directories hold SQL of their own)."""
    names = {Path(p).name for p in SQL_FILES}
    missing = []
    for d, n in mentions(doc_text(), r"[\w.-]+\.sql"):
        if d.startswith("sql/"):
            if not (ROOT / d / n).is_file():
                missing.append(d + n)
        elif d == "" and n not in names:
            missing.append(n)
    assert not sorted(missing), \
        f"docs/design.md names sql files that do not exist: {sorted(missing)}"
