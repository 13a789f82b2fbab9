"""Create an application instance."""
from myapp.app import create_app

app = create_app()
