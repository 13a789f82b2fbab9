from app import app

app.testing = True
response = app.test_client().get("/report?month=2024-05")
print(response.status_code, response.get_json())
