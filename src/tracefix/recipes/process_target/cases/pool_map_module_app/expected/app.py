from flask import Flask
from flask import render_template_string

app = Flask(__name__)
app.config["SITE_NAME"] = "Acme Docs"

PAGE = "<title>{{ config.SITE_NAME }}: {{ title }}</title>"


@app.get("/<title>")
def page(title):
    return render_template_string(PAGE, title=title)


def render_static_page(title):
    """The page as the static site serves it: rendered once, at build time."""
    with app.app_context():
        html = render_template_string(PAGE, title=title)
        return f"{title}.html", html
