"""What can go wrong in a CLI command, each printed as one line by ``main.SwitchyardGroup``.

CliError                  a message for the user, exit code 1
├── ApiError              the server answered with an error (``{"error": {"message", ...}}``)
├── ServerUnreachable     no answer: connection refused, DNS failure, timeout
└── NotLoggedIn           no context to talk to, or one without a credential
"""

from __future__ import annotations


class CliError(Exception):
    """An expected failure, explained in ``message``; never shown with a traceback."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        return f"Error: {self.message}"


class ApiError(CliError):
    def __init__(self, status: int, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code

    def line(self) -> str:
        return f"Error ({self.status}): {self.message}"


class ServerUnreachable(CliError):
    pass


class NotLoggedIn(CliError):
    pass
