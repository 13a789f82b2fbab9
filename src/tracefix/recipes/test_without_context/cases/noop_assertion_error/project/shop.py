from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
db = SQLAlchemy(app)


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    price_cents = db.Column(db.Integer, nullable=False)


def price_with_vat(product, rate=0.2):
    return int(product.price_cents * (1 + rate))
