"""Database helpers shared by the models."""

from shop.extensions import db

Column = db.Column


class CRUDMixin:
    """Create, save and delete in one call."""

    @classmethod
    def create(cls, **kwargs):
        return cls(**kwargs).save()

    def save(self, commit=True):
        db.session.add(self)
        if commit:
            db.session.commit()
        return self


class PkModel(CRUDMixin, db.Model):
    __abstract__ = True
    id = Column(db.Integer, primary_key=True)

    @classmethod
    def get_by_id(cls, record_id):
        return db.session.get(cls, int(record_id))
