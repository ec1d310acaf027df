"""Peak memory of a phase: the driver's Python process, the JVM (resident), and the JVM heap as Java sees it.

Resident peaks are the larger of what a sampling thread saw (psutil, every `interval` seconds) and the kernel's
own high-water mark (`VmHWM` in /proc/<pid>/status, reset at the start of the phase through `clear_refs` where
the kernel allows it). The heap peak sums the peak usage of the JVM's heap memory pools (reset per phase).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

MB = 1024 * 1024


@dataclass
class PeakMemory:
    """Peaks of one phase, in MB (None: not measurable here)."""

    driver_rss_mb: float | None = None
    jvm_rss_mb: float | None = None
    jvm_heap_peak_mb: float | None = None


def jvm_pid(spark: Any) -> int | None:
    """The pid of the session's JVM (the local driver); None when it cannot be reached (e.g. Spark Connect)."""
    try:
        return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    except Exception:  # a remote or Connect session: no local JVM to measure
        return None


def _heap_pools(spark: Any) -> list[Any]:
    try:
        jvm = spark.sparkContext._jvm
        heap = jvm.java.lang.management.MemoryType.HEAP
        return [p for p in jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans() if p.getType() == heap]
    except Exception:  # no local JVM
        return []


def _reset_hwm(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak resident set size
    except OSError:  # not Linux, or not allowed: the sampled peak stands alone (a lifetime peak would lie)
        return False
    return True


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class PeakSampler:
    """`with PeakSampler(spark) as peak: ...`, then `peak.result`: the phase's peaks."""

    def __init__(self, spark: Any | None, interval: float = 0.2) -> None:
        self.pids = {"driver": psutil.Process().pid, "jvm": jvm_pid(spark) if spark is not None else None}
        self.pools = _heap_pools(spark) if spark is not None else []
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self.hwm_reset: dict[str, bool] = {}
        self.result = PeakMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        processes = {name: psutil.Process(pid) for name, pid in self.pids.items() if pid is not None}
        while True:
            for name, process in processes.items():
                try:
                    self.peaks[name] = max(self.peaks.get(name, 0.0), process.memory_info().rss / MB)
                except psutil.Error:
                    pass
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakSampler:
        self.hwm_reset = {name: _reset_hwm(pid) for name, pid in self.pids.items() if pid is not None}
        for pool in self.pools:
            pool.resetPeakUsage()
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

        def peak(name: str) -> float | None:
            pid = self.pids[name]
            if pid is None:
                return None
            hwm = _hwm_mb(pid) if self.hwm_reset.get(name) else None
            found = [x for x in (self.peaks.get(name), hwm) if x is not None]
            return round(max(found), 1) if found else None

        heap = sum(p.getPeakUsage().getUsed() for p in self.pools) / MB if self.pools else None
        self.result = PeakMemory(peak("driver"), peak("jvm"), round(heap, 1) if heap is not None else None)
