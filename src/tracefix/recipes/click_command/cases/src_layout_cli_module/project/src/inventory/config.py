import os


class ProductionConfig:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///inventory.db")


class TestConfig(ProductionConfig):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
