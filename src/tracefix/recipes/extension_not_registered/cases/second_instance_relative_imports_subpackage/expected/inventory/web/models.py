from .units import UNITS
from ..extensions import db as database


class Item(database.Model):
    id = database.Column(database.Integer, primary_key=True)
    name = database.Column(database.String(100), nullable=False)
    unit = database.Column(database.Enum(*UNITS, name="unit"), default="piece")
