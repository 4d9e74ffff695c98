"""An answer held open across a graceful restart (the chaos suite's reload fault).

httpd decides an answer's keep-alive while it writes the answer's headers;
after the answer, its connection loop closes the connection if the child
began to stop meanwhile, without reading the request the client may
already have sent on it (issue 22, item 8; docs/operations.md, Reloads).
For a normal answer that window is microseconds wide, so wrk meets it only
now and then. Here a thread is held inside it: an extra httpd on the stack
serves tests/chaos/held.cgi (mod_cgid), whose headers go out at once and
whose body waits for a file this test creates once every old child has
begun to stop (it has closed the listening socket, which a worker child does
right after the MPM's state became STOPPING). Then the client sends its next
request on the connection, as a keep-alive client may: it must be answered
(with Connection: close), not cut.

    held_answer(stack, path) -> dict: promised (the held answer said
        keep-alive), stopping_s (signal -> every old child stopping, None if
        not within 15 s), outcome ("answer" | "cut"), status, closes, detail
"""

import http.client
import os
import signal
import time
from pathlib import Path

import faults

CGI = Path(__file__).resolve().parent / "held.cgi"

CONF = """\
LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
ScriptSock "{sock}"
ScriptAlias "/chaos-held" "{cgi}"
<Directory "{cgi_dir}">
    Require all granted
</Directory>
"""


def held_answer(stack, path):
    """One held answer on an extra httpd, a graceful restart of that httpd
    while it is held, then the next request (GET `path`) on its connection."""
    release = stack.state / "held-release"
    release.unlink(missing_ok=True)
    conf = CONF.format(sock=stack.state / "held-cgid.sock", cgi=CGI, cgi_dir=CGI.parent)
    with stack.httpd(conf, "held") as inst:
        workers = faults.Workers(inst)
        conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=30)
        try:
            conn.request("GET", f"/chaos-held?{release}")
            held = conn.getresponse()           # its headers: keep-alive decided
            promised = held.status == 200 and not held.will_close
            old = workers()
            t = time.monotonic()
            os.kill(inst.pid, signal.SIGUSR1)   # graceful restart
            stopping = faults.poll(lambda: not (workers() & old), 15)
            stopping_s = time.monotonic() - t if stopping else None
            release.touch()
            held.read()
            return {"promised": promised, "stopping_s": stopping_s,
                    **_next_request(conn, path)}
        finally:
            conn.close()


def _next_request(conn, path):
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
    except (OSError, http.client.HTTPException) as e:
        return {"outcome": "cut", "status": None, "closes": None,
                "detail": f"{type(e).__name__}: {e}"}
    return {"outcome": "answer", "status": r.status, "closes": r.will_close,
            "detail": f"{r.status}, Connection: {r.getheader('Connection')}"}
