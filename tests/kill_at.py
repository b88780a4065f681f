"""Run the obsync command line and SIGKILL it at its N-th write step (a fsync, a rename or
a swap).

``python -m tests.kill_at N sync --export … --vault …``; N = 0 never kills and prints the
number of steps an undisturbed run takes on stderr as ``steps=N``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def main() -> None:
    limit = int(sys.argv[1])
    steps = 0

    def counted(real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            nonlocal steps
            steps += 1
            if steps == limit:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return step

    os.fsync = counted(os.fsync)
    os.replace = counted(os.replace)
    import obsync.platform.system  # before the modules that take exchange from it

    obsync.platform.system.exchange = counted(obsync.platform.system.exchange)
    atexit.register(lambda: print(f"steps={steps}", file=sys.stderr))

    from obsync.cli import main as obsync

    sys.exit(obsync(sys.argv[2:]))


if __name__ == "__main__":
    main()
