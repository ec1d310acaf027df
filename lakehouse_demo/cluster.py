"""A Spark standalone cluster on loopback, from pyspark's own jars: a master and a few workers on this machine.

For trying the pipeline on a real cluster (executors in their own JVMs, Python workers beside them) without
installing Spark, and for the cluster test (`tests/ops/test_cluster.py`):

    .venv/bin/python -m lakehouse_demo.cluster --dir /tmp/spark-cluster      # prints the master URL; Ctrl-C stops
    SPARK_MASTER=spark://127.0.0.1:<port> ./spark-submit.sh jobs/run.py --env cluster

Each daemon is a plain `java -cp "<pyspark>/jars/*" org.apache.spark.deploy.{master.Master,worker.Worker}`
in its own process group, so stopping the cluster also ends the executors and Python workers it started; on
Linux the daemons also end when the process that started them dies (a killed test leaves nothing behind).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


class ClusterError(RuntimeError):
    """The standalone cluster did not come up (the message names the log to read)."""


def spark_home() -> Path:
    """pyspark's own folder: it holds `jars/`, which is all a master and a worker need."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class StandaloneCluster:
    """A running master and its workers: their URLs, folders and processes."""

    master_url: str
    web_url: str
    folder: Path
    worker_dirs: list[Path]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """The master's state as its web UI serves it at `/json` (workers, active and completed apps)."""
        with urllib.request.urlopen(f"{self.web_url}/json", timeout=5) as response:
            return json.loads(response.read().decode("utf-8"))

    def alive_workers(self) -> int:
        """How many workers are registered with the master and alive."""
        return sum(1 for w in self.state().get("workers", []) if w.get("state") == "ALIVE")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every daemon and whatever it started (executors, Python workers): SIGTERM, then SIGKILL."""
        for process in reversed(self.processes):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # the group's stragglers (an executor still exiting)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """In the child (Linux): get SIGTERM when the process that started the cluster dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: `stop()` is then the only way down


def _daemon(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True, preexec_fn=_die_with_parent)  # fmt: skip


def start_cluster(
    folder: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    python: str = sys.executable,
    daemon_memory: str = "256m",
    timeout: float = 120.0,
) -> StandaloneCluster:
    """Start a master and `workers` workers (`cores` cores and `memory` each) on 127.0.0.1; wait for all of them.

    Executors run the Python workers with `python`. Logs: `<folder>/master.log`, `<folder>/worker-<n>.log`;
    each worker's executors write their stdout/stderr under `<folder>/worker-<n>/<app-id>/<executor-id>/`.
    Example: `cluster = start_cluster(tmp_path); ...; cluster.stop()` (or `with standalone_cluster(tmp_path)`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    java = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else "java"
    classpath = str(home / "jars" / "*")
    # A worker builds each executor's command line from SPARK_HOME's jars and the Scala line (which
    # spark-class would have exported; here it is read off the spark-core jar's name, e.g. `_2.13`).
    (core,) = (home / "jars").glob("spark-core_*.jar")
    scala = core.name.removeprefix("spark-core_").split("-")[0]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_SCALA_VERSION": scala, "PYSPARK_PYTHON": python,
           "SPARK_LOCAL_IP": HOST}  # fmt: skip
    port, web_port = free_port(), free_port()
    cluster = StandaloneCluster(f"spark://{HOST}:{port}", f"http://{HOST}:{web_port}", folder, [])
    try:
        cluster.processes.append(_daemon(
            [java, f"-Xmx{daemon_memory}", "-cp", classpath, MASTER_CLASS,
             "--host", HOST, "--port", str(port), "--webui-port", str(web_port)],
            folder / "master.log", env))  # fmt: skip
        _wait(lambda: _answers(cluster), cluster, "the master", folder / "master.log", timeout)
        for n in range(1, workers + 1):
            work_dir = folder / f"worker-{n}"
            work_dir.mkdir(exist_ok=True)
            cluster.worker_dirs.append(work_dir)
            cluster.processes.append(_daemon(
                [java, f"-Xmx{daemon_memory}", "-cp", classpath, WORKER_CLASS,
                 "--host", HOST, "--port", str(free_port()), "--webui-port", str(free_port()),
                 "--cores", str(cores), "--memory", memory, "--work-dir", str(work_dir), cluster.master_url],
                folder / f"worker-{n}.log", env))  # fmt: skip
        _wait(lambda: cluster.alive_workers() == workers, cluster, f"{workers} workers", folder / "worker-1.log",
              timeout)  # fmt: skip
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _answers(cluster: StandaloneCluster) -> bool:
    try:
        cluster.state()
    except OSError:
        return False
    return True


def _wait(ready: Any, cluster: StandaloneCluster, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        exited = [p.args[-1] for p in cluster.processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            raise ClusterError(f"{what} did not come up within {timeout:.0f}s"
                               f"{' (a daemon exited)' if exited else ''}: see {log}")  # fmt: skip
        time.sleep(0.5)


@contextmanager
def standalone_cluster(folder: Path, **options: Any) -> Iterator[StandaloneCluster]:
    """`start_cluster(folder, **options)`, stopped at the end of the block whatever happens."""
    cluster = start_cluster(folder, **options)
    try:
        yield cluster
    finally:
        cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Start a cluster, print its master URL, run until Ctrl-C (or SIGTERM), then stop it."""
    parser = argparse.ArgumentParser(prog="python -m lakehouse_demo.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".cache/cluster"), help="logs and the workers' folders")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1, help="cores per worker")
    parser.add_argument("--memory", default="1g", help="memory per worker (executors fit in it)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with standalone_cluster(args.dir.resolve(), workers=args.workers, cores=args.cores, memory=args.memory) as c:
        print(f"master {c.master_url} (web UI {c.web_url}); logs in {c.folder}; Ctrl-C stops it", flush=True)
        try:
            while all(p.poll() is None for p in c.processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
