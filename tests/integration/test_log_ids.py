"""Every log message of the module has a stable id of its own (SHOPnnnnn),
like httpd's APLOGNO, and docs/log-messages.md explains each (issue 15)."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_log_call_has_a_unique_id():
    r = subprocess.run([str(ROOT / "scripts" / "logno"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_id_is_documented_and_no_other():
    listed = subprocess.run([str(ROOT / "scripts" / "logno"), "--list"],
                            capture_output=True, text=True, check=True).stdout
    in_code = set(re.findall(r"^(SHOP\d{5})\t", listed, re.M))
    doc = (ROOT / "docs" / "log-messages.md").read_text()
    in_doc = set(re.findall(r"^\| (SHOP\d{5}) \|", doc, re.M))
    assert in_code == in_doc, (sorted(in_code - in_doc), sorted(in_doc - in_code))
