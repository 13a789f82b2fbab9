import schedule

from inventory import app
from inventory.stock import release_reservations


def release_reservations_in_app_context(*args, **kwargs):
    """release_reservations() in an app context: the scheduler runs its jobs without one."""
    with app.app_context():
        return release_reservations(*args, **kwargs)


schedule.every(15).minutes.do(release_reservations_in_app_context)
