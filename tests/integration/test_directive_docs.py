"""Every directive of the table (mod_shop/mod_shop_directives.h) is documented
where an operator looks, with the default the code applies: the table of
docs/directives.md, conf/mod_shop.conf and debian/shop.conf (issue 19). No
server needed: the table is read as text."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "mod_shop" / "mod_shop_directives.h"

SEC = 1_000_000
UNITS = {None: SEC, "ms": 1000, "s": SEC, "m": 60 * SEC, "h": 3600 * SEC, "d": 86400 * SEC}
SIZES = {None: 1, "k": 1024, "m": 1024 * 1024}


def split_args(text):
    """The arguments of one macro call: commas at depth 0, outside strings."""
    args, depth, cur, quoted, i = [], 0, "", False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            cur += ch
            if ch == "\\":
                cur += text[i + 1]
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted, cur = True, cur + ch
        elif ch == "(":
            depth, cur = depth + 1, cur + ch
        elif ch == ")":
            if depth == 0:
                args.append(cur.strip())
                return args, i
            depth, cur = depth - 1, cur + ch
        elif ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    raise ValueError("unbalanced macro call")


def c_string(arg):
    """Adjacent C string literals, joined."""
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', arg))


def read_table():
    text = re.sub(r"/\*.*?\*/", "", TABLE.read_text(), flags=re.S).replace("\\\n", " ")
    found = []
    for m in re.finditer(r"\b(SHOP_VALUE|SHOP_SETTER|SHOP_DIR)\(", text):
        args, _ = split_args(text[m.end():])
        if m.group(1) == "SHOP_VALUE":
            name, field, kind, low, high, dflt, help_ = args
            unset = "SHOP_UNSET"
        elif m.group(1) == "SHOP_SETTER":
            name, field, _type, args_how, _setter, unset, dflt, help_ = args
            kind, low, high = "FLAG" if args_how == "FLAG" else "WORD", None, None
        else:
            name, field, _type, _args, _setter, unset, help_ = args
            kind, dflt, low, high = "WORD", unset, None, None
        found.append({"name": name, "field": field, "kind": kind, "dflt": dflt,
                      "unset": unset, "help": c_string(help_), "bounds": (low, high),
                      "dir": m.group(1) == "SHOP_DIR"})
    return found


DIRECTIVES = read_table()
BY_FIELD = {d["field"]: d for d in DIRECTIVES}


def default_of(d):
    """The default as the configuration writes it: a number (microseconds,
    bytes), "on"/"off", a word, or None (no default: left unset)."""
    expr = d["dflt"]
    if expr == d["unset"]:
        return None
    if d["kind"] == "FLAG":
        return "on" if expr == "1" else "off"
    m = re.fullmatch(r"SHOP_AUTH_(\w+)", expr)
    if m:                                       # the setter's word for it
        return m.group(1).lower().replace("_", "-")
    expr = re.sub(r"c->(\w+)", lambda f: str(default_of(BY_FIELD[f.group(1)])), expr)
    return evaluate(d["name"], expr)


def c_constant(name):
    m = re.search(rf"#define {name} (\d+)", (ROOT / "mod_shop" / "mod_shop.h").read_text())
    return m.group(1)


def evaluate(name, expr):
    """A C constant expression of the table: numbers, * and its macros."""
    for macro, value in (("SHOP_SEC", str(SEC)), ("SHOP_DAY", str(86400 * SEC)),
                         ("SHOP_INT53_MAX", str(2**53 - 1)),
                         ("SHOP_PLATFORM_CONNECTIONS_MAX",
                          c_constant("SHOP_PLATFORM_CONNECTIONS_MAX"))):
        expr = expr.replace(macro, value)
    expr = re.sub(r"(\d+)LL\b", r"\1", expr)
    assert re.fullmatch(r"[0-9 *+()]+", expr), (name, expr)
    return eval(expr, {"__builtins__": {}})     # digits and * only


def value_of(kind, text):
    """A value as written in a file, in the units of default_of."""
    text = text.strip('`"')
    if kind in ("INT", "INT64"):
        return int(text) if text.isdigit() else text
    if kind == "DURATION":
        m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", text)
        return int(m.group(1)) * UNITS[m.group(2)] if m else text
    if kind == "SIZE":
        m = re.fullmatch(r"(\d+)([kKmM])?", text)
        return int(m.group(1)) * SIZES[m.group(2) and m.group(2).lower()] if m else text
    return text.lower() if kind == "FLAG" else text


def test_the_table_is_read():
    names = [d["name"] for d in DIRECTIVES]
    assert len(names) >= 22 and len(set(names)) == len(names), names
    assert all(n.startswith("Shop") for n in names), names
    assert "ShopMount" in names and "ShopSalesRetention" in names


def conf_lines(path):
    """(directive, value) of every commented-out directive line."""
    return re.findall(r'^#\s*(Shop\w+)[ \t]+(\S+|"[^"]*")[ \t]*$',
                      path.read_text(), re.M)


CONF_FILES = [ROOT / "conf" / "mod_shop.conf", ROOT / "debian" / "shop.conf"]


@pytest.mark.parametrize("path", CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.parametrize("d", DIRECTIVES, ids=lambda d: d["name"])
def test_conf_file_shows_the_default(path, d):
    values = [v for n, v in conf_lines(path) if n == d["name"]]
    assert values, f"{d['name']} is not in {path.relative_to(ROOT)}"
    want = default_of(d)
    if want is not None:
        assert value_of(d["kind"], values[0]) == want, \
            f"{path.relative_to(ROOT)}: {d['name']} {values[0]}, the default is {want}"


@pytest.mark.parametrize("path", CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_conf_file_shows_no_other_directive(path):
    known = {d["name"] for d in DIRECTIVES}
    assert {n for n, _ in conf_lines(path)} <= known


def doc_rows():
    doc = (ROOT / "docs" / "directives.md").read_text()
    return {m.group(1): [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            for m in re.finditer(r"^\| `(Shop\w+)` \|(.*)\|\s*$", doc, re.M)}


@pytest.mark.parametrize("d", DIRECTIVES, ids=lambda d: d["name"])
def test_directives_md_shows_the_default(d):
    rows = doc_rows()
    assert d["name"] in rows, f"{d['name']} has no row in docs/directives.md"
    _value, context, default, _allowed = rows[d["name"]][:4]
    assert context.startswith("directory" if d["dir"] else "server"), (d["name"], context)
    want = default_of(d)
    shown = [t for t in re.findall(r"`([^`]+)`", default) if not t.startswith("Shop")]
    if want is None:
        assert default.startswith("unset"), (d["name"], default)
    else:
        assert shown and value_of(d["kind"], shown[0]) == want, \
            f"docs/directives.md: {d['name']} default {default!r}, the code's is {want}"


@pytest.mark.parametrize("d", [d for d in DIRECTIVES if d["bounds"][0]],
                         ids=lambda d: d["name"])
def test_directives_md_shows_the_bounds(d):
    allowed = doc_rows()[d["name"]][3]
    m = re.match(r"(\S+) \.\. ([^\s,]+)", allowed)
    assert m, (d["name"], allowed)
    shown = tuple(value_of(d["kind"], v) for v in m.groups())
    assert shown == tuple(evaluate(d["name"], b) for b in d["bounds"]), (d["name"], allowed)


def test_directives_md_lists_no_other_directive():
    assert set(doc_rows()) == {d["name"] for d in DIRECTIVES}


@pytest.mark.parametrize("d", DIRECTIVES, ids=lambda d: d["name"])
def test_help_text_says_the_default(d):
    """httpd -L shows the help text: a "default X" in it is the default."""
    m = re.search(r"default (\w+)", d["help"])
    if m and default_of(d) is not None and value_of(d["kind"], m.group(1)) != m.group(1):
        assert value_of(d["kind"], m.group(1)) == default_of(d), (d["name"], d["help"])
