import asyncio
import functools

from flask import Blueprint
from flask import request

from invoices.rendering import render_invoice
from invoices.rendering import render_pool

bp = Blueprint("invoices", __name__, url_prefix="/invoices")


@bp.get("/<number>")
async def show(number):
    net = float(request.args.get("net", "100"))
    text = await asyncio.get_running_loop().run_in_executor(
        render_pool, functools.partial(render_invoice, number, net)
    )
    return {"invoice": text}
