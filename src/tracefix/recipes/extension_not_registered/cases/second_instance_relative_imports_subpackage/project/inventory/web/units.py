UNITS = ("piece", "box", "kg")
