import os


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
    SERVER_NAME = "shop.example.com"
    PREFERRED_URL_SCHEME = "https"


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    TESTING = True


config = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "default": DevelopmentConfig,
}
