from inventory import app
from inventory.stock import release_reservations


@app.post("/admin/release")
def release_now():
    release_reservations()
    return "", 204
