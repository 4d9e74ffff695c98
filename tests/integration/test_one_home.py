"""Every shared helper has one home (issue 19): shopclient.py.

Parses every tests/integration/*.py with `ast` (nothing is imported or run)
and fails when
- a top-level function or fixture name other than a test_* function is
  defined in more than one module (conftest.py's fixtures count once, as
  any other definition), or
- a module imports from a test module or from conftest.py (helpers come from
  shopclient.py; pytest hands out conftest's fixtures by name).
The checker itself is tried on sources that break each rule, so it cannot
pass by finding nothing.
"""

import ast
import collections
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOME = "shopclient.py"


def helpers(source):
    """Top-level function names (fixtures included) other than test_*."""
    return [n.name for n in ast.parse(source).body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not n.name.startswith("test_")]


def foreign_imports(source):
    """Modules imported that are test modules or conftest."""
    out = []
    for n in ast.walk(ast.parse(source)):
        names = ([n.module or ""] if isinstance(n, ast.ImportFrom)
                 else [a.name for a in n.names] if isinstance(n, ast.Import) else [])
        out += [m for m in names if m.startswith("test_") or m == "conftest"]
    return out


def problems(sources):
    """sources: {file name: text} -> a list of what breaks the rules."""
    homes = collections.defaultdict(list)
    out = []
    for name, text in sorted(sources.items()):
        for h in helpers(text):
            homes[h].append(name)
        out += [f"{name} imports from {m}" for m in foreign_imports(text)]
    out += [f"{h} is defined in {', '.join(files)}"
            for h, files in sorted(homes.items()) if len(files) > 1]
    return out


def sources():
    return {p.name: p.read_text() for p in sorted(HERE.glob("*.py"))}


def test_every_helper_has_one_home():
    found = sources()
    assert HOME in found and "conftest.py" in found and len(found) > 20, sorted(found)
    # the shared helpers are where they belong (else this test checks nothing)
    shared = set(helpers(found[HOME]))
    assert {"ok", "place", "pay", "db_order", "drain_backlog", "server_status"} <= shared
    assert problems(found) == []


def test_the_checker_finds_what_breaks_the_rules():
    def module(helper):
        return f"def test_a(stack):\n    pass\n\n\ndef {helper}():\n    pass\n"
    dup = "import pytest\n\n\n@pytest.fixture\ndef relay(stack):\n    yield\n"
    # test_* functions may share names; helpers of different names are fine
    assert problems({"test_a.py": module("one"), "test_b.py": module("two")}) == []
    assert problems({"test_a.py": module("one"), "test_b.py": module("one")}) == [
        "one is defined in test_a.py, test_b.py"]
    assert problems({"test_a.py": module("one") + "\n" + dup, "test_b.py": dup}) == [
        "relay is defined in test_a.py, test_b.py"]
    assert problems({"shopclient.py": "def ok(r):\n    pass\n",
                     "test_x.py": "def ok(r):\n    pass\n"}) == [
        "ok is defined in shopclient.py, test_x.py"]
    assert problems({"test_c.py": "from test_orders import ok\n",
                     "test_d.py": "import conftest\n"}) == [
        "test_c.py imports from test_orders", "test_d.py imports from conftest"]
