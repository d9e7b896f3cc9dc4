"""Run a module in a child process that dies with its parent, however the parent ends.

    python -m views.tether PARENT_PID pdeathsig|watch MODULE [ARGS...]

runs ``python -m MODULE ARGS...`` in this process once it is tied to PARENT_PID:

* ``pdeathsig`` (Linux): the kernel sends SIGTERM when the parent's thread that started this
  process ends. Only for a child started from the parent's main thread, which lives as long
  as the process does.
* always, a watchdog thread: once PARENT_PID is no longer this process's parent (it died, even
  by SIGKILL, and this process was handed to init), it sends SIGTERM to this process and, if
  that did not end it within ``GRACE_SECONDS``, exits at once.

A parent that died before the tie was made is noticed too: the child then exits at once.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading
import time

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def set_parent_death_signal() -> None:
    """Ask Linux for SIGTERM when the parent ends; elsewhere only the watchdog works."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(1)


def tie(parent: int, pdeathsig: bool) -> None:
    if pdeathsig:
        set_parent_death_signal()
    if os.getppid() != parent:  # gone already, before the tie was made
        os._exit(1)
    threading.Thread(target=watch, args=(parent,), name="tether", daemon=True).start()


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] not in ("pdeathsig", "watch"):
        sys.exit("usage: python -m views.tether PARENT_PID pdeathsig|watch MODULE [ARGS...]")
    parent, mode, module, *args = argv
    tie(int(parent), mode == "pdeathsig")
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
