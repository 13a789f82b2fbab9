import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from gallery.thumbnails import thumbnail_name

PHOTOS = ["beach", "harbour", "lighthouse"]

if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        names = list(pool.map(thumbnail_name, PHOTOS))
    print("\n".join(names))
