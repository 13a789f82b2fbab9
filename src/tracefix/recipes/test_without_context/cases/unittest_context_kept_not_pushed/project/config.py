class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite:///data-dev.sqlite"


class TestingConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"


config = {"default": Config, "testing": TestingConfig}
