"""A small shop, laid out like a cookiecutter-flask project."""
