from concurrent.futures import ThreadPoolExecutor

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
#: Counting several tables one after the other made the dashboard slow: they run side by side.
executor = ThreadPoolExecutor(max_workers=4)
