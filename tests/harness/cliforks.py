"""The real CLI run many times over without paying its start-up each time: a helper process imports
``scheduler.cli`` once, then forks one child per run, which calls ``main(argv)`` in the run's folder
and environment, its stdout and stderr in files, and exits with main's code. Each run is still a
process of its own (a hang is killed, exit codes and tracebacks are what `mediawatch` gives); only
the interpreter start and the imports, the same for every run, are shared.

Nothing here imports product code: the helper is a separate interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.harness.project import REPO, cli_env

# The helper: one request per stdin line, one answer per stdout line, runs one after the other.
_HELPER = r"""
import json, os, signal, sys, time, traceback
import scheduler.cli

replies = sys.stdout
for line in sys.stdin:
    req = json.loads(line)
    replies.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, req["stdout"], os.O_WRONLY),
                                    (2, req["stderr"], os.O_WRONLY)):
                os.dup2(os.open(path, flags), fd)
            sys.argv = ["mediawatch", *req["argv"]]
            code = scheduler.cli.main(req["argv"])
        except SystemExit as err:  # argparse's usage errors
            code = err.code if isinstance(err.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + req["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            reply = {"code": os.waitstatus_to_exitcode(status)}
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reply = {"code": None}
            break
        time.sleep(0.005)
    replies.write(json.dumps(reply) + "\n")
    replies.flush()
"""


class ForkedCli:
    """``run(argv, cwd, timeout, env) -> (code, stdout, stderr)``; code None when the run was killed at
    its timeout. Thread-safe: runs queue on the one helper (use several helpers to run in parallel)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mw-cliforks-"))
        self._proc = subprocess.Popen([sys.executable, "-c", _HELPER], cwd=REPO, env=cli_env(),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lock = threading.Lock()
        self._n = 0

    def run(self, argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
            ) -> tuple[int | None, str, str]:
        with self._lock:
            self._n += 1
            out, err = self._dir / f"{self._n}.out", self._dir / f"{self._n}.err"
            out.touch()
            err.touch()
            request = {"argv": argv, "cwd": str(cwd), "env": cli_env(**(env or {})), "timeout": timeout,
                       "stdout": str(out), "stderr": str(err)}
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the CLI fork helper exited with {self._proc.wait()}")
            code = json.loads(line)["code"]
            return code, out.read_text(errors="replace"), err.read_text(errors="replace")

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        for f in self._dir.iterdir():
            f.unlink()
        self._dir.rmdir()

    def __enter__(self) -> "ForkedCli":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
