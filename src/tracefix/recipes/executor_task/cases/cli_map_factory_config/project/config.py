import os


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///catalog.db")
    SEARCH_INDEX_PATH = os.environ.get("SEARCH_INDEX_PATH", "search-index.json")


class TestConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
