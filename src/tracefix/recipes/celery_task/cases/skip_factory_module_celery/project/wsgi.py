import os

from notes import create_app

app = create_app(os.environ.get("NOTES_CONFIG", "production"))
