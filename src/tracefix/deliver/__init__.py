"""Deliver: write a verified fix into the work tree, or commit it on a new branch."""
