"""tracefix's errors, each a one-line message for the user and a documented exit code.

Our exception hierarchy::

    TracefixError                  exit 1   (never raised itself)
    ├── UnverifiedFix              exit 1   a candidate fix did not pass verification
    ├── NotAGitRepository          exit 10
    ├── DirtyFiles                 exit 11  the fix would touch files with uncommitted changes
    ├── CommandNotFound            exit 12
    ├── UnknownCause               exit 13  the failure is not a cause tracefix knows
    ├── UserSyntaxError            exit 14  the user's code does not parse
    ├── WorktreeError              exit 15  the isolated worktree cannot be created
    ├── NotReproduced              exit 16  the failure did not happen again in the worktree
    ├── NoFix                      exit 17  the cause is known but no safe fix applies here
    ├── DeliveryError              exit 18  the fix verified but could not be applied or committed
    ├── CheckoutError              exit 19  the repository or the release could not be checked out
    ├── ProjectEnvironmentError    exit 20  the project's Python environment could not be built
    └── Interrupted                exit 130 Ctrl-C; the worktree is gone, the user's tree unchanged

Exit 0 means a verified fix (applied or committed if asked), or a command that did not fail.
Exit 2 is a usage error, reported by click. Foreign errors are mapped at the edge that meets them
(``raise WorktreeError(...) from exc``); the CLI prints ``tracefix: error: <message>`` and exits.
"""

from __future__ import annotations


class TracefixError(Exception):
    """Base of every error tracefix reports to its user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnverifiedFix(TracefixError):
    """A candidate fix was written but did not pass verification."""

    exit_code = 1


class NotAGitRepository(TracefixError):
    """The working directory is not inside a git work tree."""

    exit_code = 10


class DirtyFiles(TracefixError):
    """The fix would touch files that have uncommitted changes."""

    exit_code = 11


class CommandNotFound(TracefixError):
    """The command to run does not exist."""

    exit_code = 12


class UnknownCause(TracefixError):
    """The failure is not one of the causes tracefix knows."""

    exit_code = 13


class UserSyntaxError(TracefixError):
    """A file tracefix must read or change does not parse."""

    exit_code = 14


class WorktreeError(TracefixError):
    """The isolated git worktree could not be created."""

    exit_code = 15


class NotReproduced(TracefixError):
    """The failure did not happen again in the isolated worktree."""

    exit_code = 16


class NoFix(TracefixError):
    """The cause is known, but no fix applies safely to this code."""

    exit_code = 17


class DeliveryError(TracefixError):
    """A verified fix could not be written to the work tree or committed to a branch."""

    exit_code = 18


class CheckoutError(TracefixError):
    """The project's repository could not be fetched, or the release names no commit in it.

    Raised by the server's edge (``verify/checkout.py``), where a job starts from a repository
    and a release string rather than the user's checkout.
    """

    exit_code = 19


class ProjectEnvironmentError(TracefixError):
    """The project's Python environment could not be built or its interpreter does not run."""

    exit_code = 20


class Interrupted(TracefixError):
    """The user pressed Ctrl-C."""

    exit_code = 130
