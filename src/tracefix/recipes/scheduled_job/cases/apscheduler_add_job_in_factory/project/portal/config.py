class Production:
    SQLALCHEMY_DATABASE_URI = "sqlite:///portal.db"
    SESSION_LIFETIME_HOURS = 12
