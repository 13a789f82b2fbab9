"""Database module, including the SQLAlchemy database object and DB-related utilities."""
from .extensions import db

Column = db.Column


class PkModel(db.Model):
    """Base model class that includes CRUD convenience methods, plus adds a 'primary key' column."""

    __abstract__ = True
    id = Column(db.Integer, primary_key=True)
