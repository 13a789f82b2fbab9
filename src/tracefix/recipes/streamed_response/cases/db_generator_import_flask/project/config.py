class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite:///reports.db"


class DemoConfig(Config):
    SQLALCHEMY_DATABASE_URI = "sqlite://"
