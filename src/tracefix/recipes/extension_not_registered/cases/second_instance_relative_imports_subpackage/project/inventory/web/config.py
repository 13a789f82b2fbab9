class Settings:
    SQLALCHEMY_DATABASE_URI = "sqlite:///inventory.db"


class TestSettings(Settings):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
