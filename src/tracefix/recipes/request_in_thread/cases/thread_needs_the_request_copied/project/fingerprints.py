import hashlib


def fingerprint(req):
    """A stable, anonymous id for a visitor: their address and browser."""
    seen = f"{req.remote_addr}|{req.user_agent.string}|{req.accept_languages}"
    return hashlib.sha256(seen.encode()).hexdigest()[:12]
