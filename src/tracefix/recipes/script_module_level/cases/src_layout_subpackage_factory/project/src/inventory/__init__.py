"""Stock levels of the warehouse."""
