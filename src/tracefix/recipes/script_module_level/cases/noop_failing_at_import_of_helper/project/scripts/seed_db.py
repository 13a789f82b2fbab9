from app import db
from scripts import fixtures

db.session.commit()
print(f"Created user: {fixtures.ADMIN.name}")
