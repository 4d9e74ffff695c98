"""wrk as a load of the chaos suite (the "reload" fault).

    w = Wrk(port, connections, method, paths, delay_ms).start()
                                                   wrk runs until stop()
    w.stop() -> {"requests", "errors": {connect, read, write, timeout, status},
                 "status": {"200": n, ...}, "latency_us": {...}}

Unlike the workload's Python threads, wrk sends the next request on a
keep-alive connection the moment the answer is read, without looking at the
socket first: a connection the server closes after answering "keep-alive"
cuts the request just sent on it, and wrk counts a read error. That is the
client of issue 22 (item 8).

wrk runs with a long -d and is stopped by SIGINT to its PID (it then prints
its summary and the BENCH_JSON line of tests/chaos/reload.lua, which is
parsed here), so the load covers exactly the fault and its tail however long
the reloads take.
"""

import json
import signal
import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "reload.lua"
MAX_RUN = "600s"       # stop() ends it long before
TIMEOUT = "5s"         # a request unanswered this long counts as a timeout


class WrkError(RuntimeError):
    pass


class Wrk:
    def __init__(self, port, connections, method, paths, delay_ms):
        self.cmd = ["wrk", "-t1", f"-c{connections}", f"-d{MAX_RUN}", f"--timeout={TIMEOUT}",
                    "-s", str(SCRIPT), f"http://127.0.0.1:{port}", "--",
                    f"method={method}", "paths=" + ",".join(paths), f"delay={delay_ms}"]
        self.out = None
        self.proc = None

    def start(self):
        # Output to a file: nothing to drain while it runs.
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def stop(self, timeout=30):
        """SIGINT, wait for wrk's summary, parse it."""
        if self.proc is None:
            raise WrkError("wrk was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise WrkError(f"wrk (pid {self.proc.pid}) did not stop within {timeout} s")
        finally:
            self.out.seek(0)
            text = self.out.read()
            self.out.close()
        for line in text.splitlines():
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON "):])
        raise WrkError(f"no BENCH_JSON line from wrk (exit {rc}): {text[-2000:]}")

    def kill(self):
        """Cleanup path: ends a wrk still running, by its PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def socket_errors(result):
    """connect + read + write + timeout: requests wrk lost on the way."""
    e = result["errors"]
    return e["connect"] + e["read"] + e["write"] + e["timeout"]


def not_2xx(result):
    """Answers whose status is not 2xx (wrk's own "status" error counts only >= 400)."""
    return sum(n for code, n in result["status"].items() if not code.startswith("2"))


def busy(result):
    """503 BUSY answers with Retry-After (counted by reload.lua)."""
    return result.get("extra", {}).get("busy_retry_after", 0)
