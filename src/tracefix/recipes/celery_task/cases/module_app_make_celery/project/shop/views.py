from shop import app
from shop.tasks import close_stale_orders


@app.post("/orders/close-stale")
def close_stale():
    result = close_stale_orders.delay()
    return {"task_id": result.id}, 202
