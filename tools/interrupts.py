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

Reference: Python documentation, ``signal`` ("Execution of Python signal handlers": handlers
run in the main thread between bytecode instructions) and PEP 419 (protecting cleanup
statements from interruptions, deferred).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType

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
