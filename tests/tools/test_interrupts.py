"""The daemon worker pool under signals: a cut-short ``start`` never leaves ``shutdown`` waiting."""

from __future__ import annotations

import threading

import pytest

from tools.interrupts import DaemonExecutor, Interrupted


def test_shutdown_stops_a_worker_whose_start_a_signal_cut_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Thread.start`` waits for the new thread, so SIGTERM can raise there after the worker
    already runs. Before the fix that worker was not listed, shutdown put one stop mark per
    listed worker, and when the unlisted one took it, ``shutdown(wait=True)`` joined a worker
    waiting on the queue for ever (run 29 of the 50 interrupted reviews, CI of stop 20)."""
    real_start = threading.Thread.start

    def start_then_signal(self: threading.Thread) -> None:
        real_start(self)
        if self.name.endswith("_1"):
            raise Interrupted("SIGTERM")

    monkeypatch.setattr(threading.Thread, "start", start_then_signal)
    for attempt in range(20):  # which worker takes a mark was a coin toss; now none can starve
        pool = DaemonExecutor(max_workers=3, thread_name_prefix=f"p{attempt}")
        assert pool.submit(lambda: 1).result(timeout=5) == 1
        with pytest.raises(Interrupted):
            pool.submit(lambda: 2)
        stopper = threading.Thread(target=pool.shutdown, daemon=True)
        real_start(stopper)
        stopper.join(timeout=10)
        assert not stopper.is_alive(), f"shutdown(wait=True) hung on attempt {attempt}"
        assert not any(t.is_alive() for t in pool._threads)


def test_shutdown_cancels_queued_work_and_returns_while_a_task_runs() -> None:
    release = threading.Event()
    pool = DaemonExecutor(max_workers=1)
    running = pool.submit(release.wait, 30)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled() and not running.done()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None)
    release.set()
    assert running.result(timeout=5) is True
