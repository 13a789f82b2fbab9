import os


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
    ADMIN_EMAIL = os.environ.get("ADMIN_EMAIL", "admin@shop.test")
    MAIL_SENDER = "Shop <noreply@shop.test>"


class TestConfig(Config):
    TESTING = True
