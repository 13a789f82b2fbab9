from shop.database import Column
from shop.database import PkModel
from shop.database import db


class Product(PkModel):
    __tablename__ = "products"
    name = Column(db.String(80), unique=True, nullable=False)
    price = Column(db.Integer, nullable=False, default=0)

    def __repr__(self):
        return f"<Product {self.name}>"
