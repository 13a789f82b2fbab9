import gevent
from flask import current_app


def fetch_price(sku):
    gevent.sleep(0)  # the pricing service's HTTP call yields here
    return current_app.config["PRICES"][sku]


def total_price(skus):
    jobs = [gevent.spawn(fetch_price, sku) for sku in skus]
    gevent.joinall(jobs, raise_error=True)
    return sum(job.value for job in jobs)
