"""A real Elasticsearch node for the test suite, from Maven Central, run as an unprivileged user.

Elastic publishes its minimal distribution to Maven Central as
``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip``; Maven fetches
it once into a cache outside the repo. Elasticsearch refuses to run as root and CI runs as
root, so the node then runs as a system user created on demand.

    python -m tests.harness.elasticsearch fetch     # download + unpack (make test does this)
    python -m tests.harness.elasticsearch run       # start a node in the foreground, for poking
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ES_VERSION = os.environ.get("MEDIAWATCH_ES_VERSION", "8.19.9")
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
CACHE = Path(os.environ.get("MEDIAWATCH_CACHE", Path.home() / ".cache" / "mediawatch"))
# The unpacked tree must be readable by the unprivileged user, and /root is not.
INSTALL_ROOT = Path(os.environ.get("MEDIAWATCH_ES_HOME_ROOT", "/var/tmp/mediawatch"))
ES_USER = "mediawatch-es"


def _zip_path() -> Path:
    return CACHE / f"elasticsearch-{ES_VERSION}.zip"


def fetch() -> Path:
    """Download the distribution with Maven unless cached; return the zip's path."""
    target = _zip_path()
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}",
         f"-DoutputDirectory={CACHE}", "-Dmdep.stripVersion=false"],
        check=True,
    )
    downloaded = CACHE / f"elasticsearch-{ES_VERSION}.zip"
    if not downloaded.exists():
        raise RuntimeError(f"maven did not produce {downloaded}")
    return downloaded


def install() -> Path:
    """Unpack the distribution once into INSTALL_ROOT; return ES_HOME."""
    home = INSTALL_ROOT / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    INSTALL_ROOT.mkdir(parents=True, exist_ok=True)
    INSTALL_ROOT.chmod(0o755)
    # The suite's workers (pytest -n) each start a node: on a fresh machine the first unpacks, the rest wait.
    with open(INSTALL_ROOT / f".install-{ES_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / "bin" / "elasticsearch").exists():
            return home
        return _unpack(home)


def _unpack(home: Path) -> Path:
    archive = fetch()
    staging = Path(tempfile.mkdtemp(dir=INSTALL_ROOT))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    unpacked = staging / f"elasticsearch-{ES_VERSION}"
    for path in (unpacked / "bin").iterdir():
        path.chmod(0o755)
    for dirpath, dirnames, filenames in os.walk(unpacked):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = Path(dirpath, name)
            p.chmod(p.stat().st_mode | 0o444)
    unpacked.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


def java_home() -> str:
    """A JDK 17+ for the node: ES_JAVA_HOME, JAVA_HOME, or the one `java` on PATH belongs to."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            return os.environ[var]
    java = shutil.which("java")
    if not java:
        raise RuntimeError("no java on PATH: install a JDK 17+ (apt-get install openjdk-17-jre-headless)")
    return str(Path(os.path.realpath(java)).parent.parent)


def java_version(home: str | Path) -> str:
    """The JDK's version from its ``release`` file ("" when it has none)."""
    try:
        release = Path(home, "release").read_text()
    except OSError:
        return ""
    m = re.search(r'^JAVA_VERSION="([^"]*)"', release, re.M)
    return m.group(1) if m else ""


def _java_major(home: Path) -> int:
    m = re.match(r"\d+", java_version(home))
    return int(m.group()) if m else 0


def newest_java_home() -> str:
    """ES_JAVA_HOME if set, else the newest JDK 17+ installed in /usr/lib/jvm (else :func:`java_home`).
    Benchmarks use it: Elasticsearch's own distributions bundle a current JDK (8.19: JDK 24), which
    indexes faster than the JDK 17 the suite runs on."""
    if os.environ.get("ES_JAVA_HOME"):
        return os.environ["ES_JAVA_HOME"]
    homes = [h for h in Path("/usr/lib/jvm").glob("*") if h.is_dir() and not h.is_symlink()]
    best = max(homes, key=_java_major, default=None)
    return str(best) if best is not None and _java_major(best) >= 17 else java_home()


def service_user() -> pwd.struct_passwd | None:
    """The unprivileged user the harness runs servers as (Elasticsearch, PostgreSQL); None when we are
    not root (then they run as us)."""
    if os.geteuid() != 0:
        return None
    INSTALL_ROOT.mkdir(parents=True, exist_ok=True)
    # the suite's workers (pytest -n) may all get here first on a fresh machine: one useradd
    with open(INSTALL_ROOT / ".useradd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(ES_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
                check=True,
            )
            return pwd.getpwnam(ES_USER)


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def file_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a server's log, for a failing test's message ("" before the server wrote one)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ElasticsearchNode:
    """One single-node cluster on 127.0.0.1; stop() and start() keep its data and port.

    ``quick_jit`` (tests) stops the JIT at C1: the node starts seconds sooner, but indexes slower, so
    benchmarks turn it off."""

    def __init__(self, heap: str = "512m", quick_jit: bool = True, java: str | None = None) -> None:
        self.home = install()
        self.heap = heap
        self.quick_jit = quick_jit
        self.java = java
        self.port = free_port()
        self.transport_port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="mediawatch-es-"))
        self.proc: subprocess.Popen | None = None
        self._prepare()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        conf = self.workdir / "config"
        shutil.copytree(self.home / "config", conf)
        for sub in ("data", "logs", "tmp"):
            (self.workdir / sub).mkdir()
        with open(conf / "elasticsearch.yml", "a") as fh:
            fh.write(
                "\n"
                "discovery.type: single-node\n"
                "network.host: 127.0.0.1\n"
                f"http.port: {self.port}\n"
                f"transport.port: {self.transport_port}\n"
                f"path.data: {self.workdir / 'data'}\n"
                f"path.logs: {self.workdir / 'logs'}\n"
                "xpack.security.enabled: false\n"
                # A nearly full dev disk must not flip our indices to read-only mid-suite.
                "cluster.routing.allocation.disk.threshold_enabled: false\n"
                "action.destructive_requires_name: false\n"
            )
        user = service_user()
        self.workdir.chmod(0o755)
        if user is not None:
            for dirpath, _dirs, files in os.walk(self.workdir):
                os.chown(dirpath, user.pw_uid, user.pw_gid)
                for name in files:
                    os.chown(Path(dirpath, name), user.pw_uid, user.pw_gid)

    def start(self, timeout: float = 180) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": self.java or java_home(),
            "ES_PATH_CONF": str(self.workdir / "config"),
            "ES_TMPDIR": str(self.workdir / "tmp"),
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}" + (" -XX:TieredStopAtLevel=1" if self.quick_jit else ""),
        }
        user = service_user()
        log = open(self.workdir / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.home / "bin" / "elasticsearch")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            start_new_session=True,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"elasticsearch exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5) as resp:
                    if resp.headers.get("X-Elastic-Product") == "Elasticsearch":
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"elasticsearch not ready after {timeout}s:\n{self.log_tail()}")

    def product_header(self) -> str | None:
        """The X-Elastic-Product header of `GET /` (the minimal build answers it with 405)."""
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=5) as resp:
                return resp.headers.get("X-Elastic-Product")
        except urllib.error.HTTPError as err:
            return err.headers.get("X-Elastic-Product")

    def version(self) -> str:
        import json

        with urllib.request.urlopen(f"{self.url}/_nodes/_local?filter_path=nodes.*.version", timeout=5) as resp:
            nodes = json.load(resp)["nodes"]
        return next(iter(nodes.values()))["version"]

    def label(self) -> str:
        """Version and JDK, for benchmark reports: "8.19.9 (JDK 25.0.3)"."""
        return f"{self.version()} (JDK {java_version(self.java or java_home()) or 'unknown'})"

    def stop(self, timeout: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        return file_tail(self.workdir / "stdout.log", lines)

    def cleanup(self) -> None:
        # its data is deleted next, so there is nothing to shut down cleanly for: a graceful stop held
        # up the end of every worker's session
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "fetch"
    if command == "fetch":
        home = install()
        sys.stderr.write(f"elasticsearch {ES_VERSION} ready at {home}\n")
        return 0
    if command == "run":
        node = ElasticsearchNode()
        node.start()
        sys.stderr.write(f"elasticsearch {node.version()} on {node.url} (Ctrl-C stops)\n")
        try:
            if node.proc is not None:
                node.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            node.cleanup()
        return 0
    sys.stderr.write("usage: python -m tests.harness.elasticsearch [fetch|run]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
