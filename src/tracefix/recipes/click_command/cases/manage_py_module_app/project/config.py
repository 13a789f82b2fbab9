import os


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///microblog.db")
    POSTS_PER_PAGE = 25
