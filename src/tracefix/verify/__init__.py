"""Verify: prove a candidate fix in an isolated git worktree before anyone sees it as a fix."""
