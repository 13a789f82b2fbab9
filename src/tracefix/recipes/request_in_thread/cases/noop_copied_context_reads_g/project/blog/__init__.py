from flask import Flask

app = Flask(__name__)
app.config["SEARCH_INDEX"] = {}

from blog import views  # noqa: E402,F401
