import schedule

from inventory.stock import release_reservations

schedule.every(15).minutes.do(release_reservations)
