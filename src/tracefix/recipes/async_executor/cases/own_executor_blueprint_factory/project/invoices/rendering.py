from concurrent.futures import ThreadPoolExecutor

from flask import current_app

#: Rendering is CPU-bound and slow: at most two at a time, off the event loop.
render_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")


def render_invoice(number, net):
    vat = round(net * current_app.config["VAT_RATE"], 2)
    return f"{current_app.config['COMPANY_NAME']} invoice {number}: {net + vat:.2f}"
