"""The one exception type for errors obsync knows how to explain."""

from __future__ import annotations


class ObsyncError(Exception):
    """A known error: printed as one actionable line, exit code ``exit_code``.

    2 means a usage or configuration error (the service is not restarted after it);
    1 means the run finished but something could not be done.
    """

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
