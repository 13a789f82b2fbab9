from shop import create_app
from shop.prices import total_price

app = create_app()
print("catalogue total:", total_price(list(app.config["PRICES"])))
