SQLALCHEMY_DATABASE_URI = "sqlite:///shop.db"
SECRET_KEY = "not-secret"
