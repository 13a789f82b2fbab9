"""Open a pull request for a pushed fix and follow its CI, on GitHub, GitLab, Gitea or Forgejo.

The server's delivery edge: ``forge_for(remote_url, token=...)`` gives the client for the
repository, ``open_pull_request`` opens the request once however often it is called, and
``checks`` with ``summarize`` (or ``ci_state``) tell the dashboard how the checks stand.
"""

from tracefix.deliver.forges.base import Check
from tracefix.deliver.forges.base import CheckState
from tracefix.deliver.forges.base import CIState
from tracefix.deliver.forges.base import Forge
from tracefix.deliver.forges.base import PullRequest
from tracefix.deliver.forges.base import PullRequestSpec
from tracefix.deliver.forges.base import summarize
from tracefix.deliver.forges.detect import ForgeKind
from tracefix.deliver.forges.detect import RemoteLocation
from tracefix.deliver.forges.detect import forge_for
from tracefix.deliver.forges.detect import parse_remote_url
from tracefix.deliver.forges.gitea import Gitea
from tracefix.deliver.forges.github import GitHub
from tracefix.deliver.forges.gitlab import GitLab
from tracefix.deliver.forges.http import RateLimited

__all__ = [
    "CIState",
    "Check",
    "CheckState",
    "Forge",
    "ForgeKind",
    "GitHub",
    "GitLab",
    "Gitea",
    "PullRequest",
    "PullRequestSpec",
    "RateLimited",
    "RemoteLocation",
    "forge_for",
    "parse_remote_url",
    "summarize",
]
