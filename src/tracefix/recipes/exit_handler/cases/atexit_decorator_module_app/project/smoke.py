from app import app

client = app.test_client()
for _ in range(3):
    assert client.get("/").status_code == 200
print("ok")
