import threading

from library import create_app
from library.search import rebuild_index

app = create_app()
worker = threading.Thread(target=rebuild_index)
worker.start()
worker.join()
