"""Ctrl-C and SIGTERM as one exception, raised only where no bookkeeping is half done.

:func:`install` makes SIGINT and SIGTERM raise :class:`Interrupted` (a ``KeyboardInterrupt``, so
every existing ``except KeyboardInterrupt`` handles both) in the main thread. Python runs signal
handlers between bytecodes of the main thread, so an exception raised there can land anywhere:
inside a ``with lock:`` that a ``@contextmanager`` generator entered but whose ``__enter__`` had
not returned. The generator is then abandoned holding the lock, and the ``except`` clause that
wants to record "interrupted" in the same store waits on that lock for ever.

:class:`shield` closes that window. Code that takes a lock or writes a store runs inside
``with shield():``; a signal arriving there is remembered, and :class:`Interrupted` is raised
when the outermost shield exits (after the lock is released and the transaction committed or
rolled back). Shields count per thread; only the main thread receives signals, so a worker
thread's shield is free. A second signal while shielded is not lost either.

Before a command is ready to record anything (while the CLI imports its modules) and after it
has recorded an interruption, :func:`install` with ``exit_now=True`` makes a signal print one
line and end the process at once (``os._exit(130)``): no traceback from an import, and no
second exception in the interpreter's shutdown while worker threads finish.

:class:`DaemonExecutor` runs work (the review's assessment units) on daemon threads, so neither
an interrupted caller nor the interpreter's exit waits for the units in flight: the standard
``ThreadPoolExecutor`` joins its threads at exit, which held an interrupted ``rca review`` for as
long as its slowest unit (a Bedrock call may take minutes).

Reference: Python documentation, ``signal`` ("Execution of Python signal handlers": handlers
run in the main thread between bytecode instructions) and PEP 419 (protecting cleanup
statements from interruptions, deferred).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import FrameType, TracebackType
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell convention for an interrupted command


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signal_name`` says which."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class _State(threading.local):
    depth = 0


_state = _State()
_pending: list[str] = []
_received: list[str] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    _received.append(name)
    if _state.depth > 0:  # shielded: raise when the outermost shield exits
        _pending.append(name)
        return
    raise Interrupted(name)


def _exit_now(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    _received.append(name)
    os.write(2, f"error: interrupted by {name}; exiting now\n".encode())
    os._exit(EXIT_INTERRUPTED)


def install(*, exit_now: bool = False) -> bool:
    """Route SIGINT and SIGTERM to :class:`Interrupted` (main thread only; idempotent), or with
    ``exit_now`` to one stderr line and an immediate exit with status 130.

    Returns False when called outside the main thread (signals cannot be set there)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in SIGNALS:
        signal.signal(sig, _exit_now if exit_now else _handler)
    return True


def received() -> str | None:
    """The name of the last SIGINT/SIGTERM this process received through :func:`install`."""
    return _received[-1] if _received else None


def pending() -> str | None:
    """The name of a signal received while shielded and not yet raised, else None."""
    return _pending[0] if _pending else None


class shield:
    """Defer :class:`Interrupted` to the end of the block (see the module docstring)."""

    def __enter__(self) -> shield:
        _state.depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _state.depth -= 1
        if _state.depth == 0 and _pending and threading.current_thread() is threading.main_thread():
            name = _pending[0]
            _pending.clear()
            if exc_type is None or not issubclass(exc_type, KeyboardInterrupt):
                raise Interrupted(name)


class DaemonExecutor(Executor):
    """A thread pool of at most ``max_workers`` **daemon** threads (started on demand).

    Like :class:`concurrent.futures.ThreadPoolExecutor` for ``submit`` and ``shutdown(wait,
    cancel_futures)``, except that nothing joins its threads at interpreter exit: after
    ``shutdown(wait=False, cancel_futures=True)`` the process can end while a task is still
    running (its result is lost; callers checkpoint finished work). Tasks must not need to run
    to completion for consistency (each of the review's writes is its own transaction).
    """

    def __init__(self, max_workers: int, thread_name_prefix: str = "worker") -> None:
        self.max_workers = max(1, max_workers)
        self.prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; returns its future.

        Raises:
            RuntimeError: the executor was shut down.
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to an executor that was shut down")
            self._queue.put((future, lambda: fn(*args, **kwargs)))
            if len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.prefix}_{len(self._threads)}", daemon=True
                )
                # Listed before it starts: ``start`` waits for the new thread, so a signal can
                # raise there after the thread runs; it must still be one that shutdown stops.
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # the stop mark stays for the next worker
                return
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to the caller through the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks; ``cancel_futures`` cancels the queued ones; ``wait`` joins the workers
        (after the running tasks end), else returns at once.

        One stop mark ends every worker (each puts it back as it leaves, as the standard
        ``ThreadPoolExecutor`` does), so a worker whose ``start`` was cut short by a signal
        cannot take another's mark and leave it waiting on the queue for ever."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        self._queue.put(None)
        if wait:
            for thread in threads:
                if thread.is_alive():  # not one whose start a signal cut short: it stops itself
                    thread.join()
