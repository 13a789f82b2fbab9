from proj import views  # noqa: F401
from proj.web import app
