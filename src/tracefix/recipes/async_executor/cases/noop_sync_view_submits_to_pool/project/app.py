from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from flask import current_app

app = Flask(__name__)
app.config.update(TESTING=True, GREETING="hello")
pool = ThreadPoolExecutor(2)


def greet(name):
    return f"{current_app.config['GREETING']} {name}"


@app.get("/greet/<name>")
def greeting(name):
    return {"text": pool.submit(greet, name).result()}


if __name__ == "__main__":
    print(app.test_client().get("/greet/ada").get_json())
