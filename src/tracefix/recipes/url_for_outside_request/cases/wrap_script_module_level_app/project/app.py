from flask import Flask, render_template_string

app = Flask(__name__)
app.config.from_mapping(SECRET_KEY="dev", APPLICATION_ROOT="/docs")


@app.route("/")
def index():
    return render_template_string("<h1>Docs</h1>")


@app.route("/guide/<slug>")
def guide(slug):
    return render_template_string("<h1>{{ slug }}</h1>", slug=slug)


if __name__ == "__main__":
    app.run(debug=True)
