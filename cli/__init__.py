"""The ``rca`` command line (see :mod:`cli.main`).

When this package is imported to run the command (the ``rca`` script or ``python -m cli.main``),
Ctrl-C and SIGTERM end the process at once with one line and status 130 until a command is ready
to record an interruption (:func:`tools.interrupts.install`): no traceback from an import.
"""

from __future__ import annotations

import os
import sys

from tools.interrupts import install

if os.path.basename(sys.argv[0]) in ("rca", "-m"):  # running the command, not imported by tests
    install(exit_now=True)
