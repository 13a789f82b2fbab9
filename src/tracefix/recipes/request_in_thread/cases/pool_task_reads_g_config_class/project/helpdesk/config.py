class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite:///helpdesk.db"


class TestConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
