"""The metastore server's process bookkeeping, without Java: a stand-in child process plays the server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from lakehouse.metastore import LocalMetastore, stop_server


def _state(pid: int) -> str | None:
    """The process state letter from /proc (`Z` for a zombie), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_a_server_this_process_started_and_that_exited_is_reaped_not_waited_for(tmp_path: Path) -> None:
    """The server exits on its own (or on SIGTERM) but, as this process's child, lingers as a zombie until it is
    reaped: stopping must reap it and report it stopped, not take the zombie for a live server."""
    metastore = LocalMetastore(folder=tmp_path, host="127.0.0.1", port=1)
    child = subprocess.Popen(["true"])  # a stand-in server that exits at once
    metastore.pid_file.write_text(str(child.pid), encoding="utf-8")
    deadline = time.monotonic() + 10
    while _state(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(child.pid) == "Z"  # exited, not reaped yet

    assert stop_server(metastore, timeout=5) is False  # nothing was running: it is not waited for
    assert _state(child.pid) is None  # reaped: no zombie left behind
