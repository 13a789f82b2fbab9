class ProductionConfig:
    SQLALCHEMY_DATABASE_URI = "postgresql:///ledger"


class TestingConfig:
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite:///ledger-test.db"
