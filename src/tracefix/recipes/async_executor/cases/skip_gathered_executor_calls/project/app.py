import asyncio

from flask import Flask
from flask import current_app

app = Flask(__name__)
app.config.update(TESTING=True, WAREHOUSES={"north": 12, "south": 30})


def stock_in(warehouse):
    return current_app.config["WAREHOUSES"][warehouse]


@app.get("/stock")
async def stock():
    loop = asyncio.get_running_loop()
    # both warehouses at once: these two calls run side by side
    north, south = await asyncio.gather(
        loop.run_in_executor(None, stock_in, "north"),
        loop.run_in_executor(None, stock_in, "south"),
    )
    return {"total": north + south}


if __name__ == "__main__":
    print(app.test_client().get("/stock").get_json())
