"""Take secrets and personal data out of an event before it leaves the process.

Name-based scrubbing (sentry-python's ``EventScrubber``, Relay's denylist) misses the secrets
that leak in practice: a token inside a dict's repr, a pydantic model's repr, a log message or
a database URL (getsentry/sentry#42317, dimagi/open-chat-studio#4508). So every string that
can carry a value is also scrubbed by what it looks like:

- known key formats (AWS, GitHub, GitLab, Slack, Stripe, Google, OpenAI, ...), JWTs and PEM
  private keys;
- the password of ``scheme://user:password@host`` (the user stays);
- ``name=value`` and ``'name': 'value'`` pairs whose name is a secret's;
- ``Bearer``/``Basic``/``Token`` credentials;
- long random-looking words: base64/base62 with high Shannon entropy and no natural-language
  runs. Hex strings and UUIDs are kept: they are far more often commit hashes, ids and etags
  than keys; a hex key still goes when its name says what it is.

A value is replaced with ``[Filtered]``: the structure stays, so the event still reads.

Cost: this runs on every captured event, in the thread that raised. Patterns are compiled
once, only strings are scanned, a cheap pre-check skips strings that cannot hold a secret, and
names are classified once each. Source lines get the unambiguous formats only: ``password =
form["password"]`` is code, not a leak.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

FILTERED = "[Filtered]"

#: Words in a key (lowercased, ``-`` read as ``_``) that make its value secret, always.
#: From Relay's and sentry-python's denylists, plus the names keys are given in the wild.
_SECRET_NAME = re.compile(
    r"""
    pass(word|wd|phrase)          # password, passwd, passphrase, db_password, PASSWORD_HASH
    | secret                      # secret, client_secret, SECRET_KEY
    | api_?key | access_?key | private_?key | signing_?key | encryption_?key | master_?key
    | credential
    | csrf | xsrf                  # Django csrftoken, Angular XSRF-TOKEN, Tornado _xsrf
    | jwt
    | connect\.sid                # Express
    | token$                      # token, access_token, csrftoken, accessToken lowercased
    | _pwd$                       # MYSQL_PWD (not PWD, the shell's working directory)
    | (^|_)(auth|bearer|otp|pin|cvv|ssn)$
    | (^|_)(card_?number|credit_?card)
    | (^|_)dsn$
    """,
    re.VERBOSE,
)

#: Names that carry personal data: kept only with ``send_default_pii=True``.
_PII_NAME = re.compile(
    r"""
    cookie                        # cookie, set_cookie, csrf cookies
    | authorization               # authorization, proxy_authorization
    | (^|_)session(_?id|_?key|_?token)?$    # session, sessionid, user_session, aiohttp_session
    | sessid                      # PHPSESSID
    | (^|_)(x_forwarded_for|forwarded|x_real_ip|remote_addr|ip_address|client_ip|
            true_client_ip|cf_connecting_ip)$
    """,
    re.VERBOSE,
)

# --- values ---------------------------------------------------------------------------------

#: Runs of characters a key or token is made of. Secrets are looked for in these only: a
#: regex alternation of 25 formats tried at every position of every string costs ~10 µs a
#: string, finding the runs ~0.3 µs. ``/``, ``=`` and ``:`` end a run, so ``key=<token>`` and
#: ``https://host/<token>`` give the token its own run.
_TOKEN = re.compile(r"[A-Za-z0-9_.+-]{16,}")

#: Unambiguous key formats, searched for in each run. Each is scrubbed in source lines too.
_KNOWN = re.compile(
    r"""
    \b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b   # AWS key ids
    | \bgh[pousr]_[A-Za-z0-9]{36,}                             # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{22,}
    | \bglpat-[A-Za-z0-9_-]{20,}                               # GitLab
    | \bxox[abposre]-[A-Za-z0-9-]{10,}                         # Slack tokens
    | \b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}               # Stripe secret keys
    | \bwhsec_[A-Za-z0-9]{20,}                                 # Stripe webhook secrets
    | \bAIza[0-9A-Za-z_-]{35}                                  # Google API keys
    | \bya29\.[0-9A-Za-z_-]{20,}                               # Google OAuth access tokens
    | \bsk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}   # OpenAI, Anthropic
    | \bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}             # SendGrid
    | \bnpm_[A-Za-z0-9]{36}\b                                  # npm
    | \bpypi-[A-Za-z0-9_-]{50,}                                # PyPI
    | \bhf_[A-Za-z0-9]{30,}                                    # Hugging Face
    | \bsntr[ysu]_[A-Za-z0-9_+.-]{20,}                         # Sentry auth tokens
    | \bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b                   # Shopify
    | \bdop_v1_[a-f0-9]{64}\b                                  # DigitalOcean
    | \bkey-[0-9a-f]{32}\b                                     # Mailgun
    | \b(?:AC|SK)[0-9a-f]{32}\b                                # Twilio
    | \beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*   # JWT (signature optional)
    """,
    re.VERBOSE,
)

#: PEM private keys (RSA, EC, OpenSSH, PGP), whole or cut short by a repr's length limit.
_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*)",
    re.DOTALL,
)

#: Slack incoming-webhook URLs: the path is the credential.
_SLACK_WEBHOOK = re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+")

#: The password of a URL: ``scheme://user:password@host`` (and ``redis://:password@host``).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@'\"]*:)([^\s@/?#'\"]+)(@)")

#: A credential after its scheme: ``Authorization: Bearer <token>``.
_AUTH_SCHEME = re.compile(r"(?i)(\b(?:bearer|basic|token|digest)\s+)([A-Za-z0-9._~+/=-]{8,})")

#: The words, in a lowercased string, without which neither ``_AUTH_SCHEME`` nor a secret's
#: name in ``_PAIR`` can match: one scan instead of two patterns on most strings.
_HINT = re.compile(
    r"pass|pwd|secret|key|token|auth|credential|csrf|xsrf|jwt|session|cookie|sid|bearer|basic"
    r"|digest|otp|pin|cvv|ssn|card|dsn"
)

#: ``name=value``, ``name: value``, ``'name': 'value'``, ``name='value'`` (reprs of dicts,
#: dataclasses and pydantic models, query strings, log messages). The name decides, through
#: ``is_secret_name``. A name starts where no name character precedes it, so each word is
#: tried once (a keyword-in-the-middle pattern backtracks: 37 µs a string).
_PAIR = re.compile(
    r"""(?x)
    (?<![A-Za-z0-9_.-])
    (?P<name>[A-Za-z0-9_.-]+)
    (?P<sep>['"]?\s*[:=]\s*)
    (?P<value>\[Filtered\]|'[^']*'|"[^"]*"|[^\s,;&'"}\])]+)
    """
)

#: Parts of a run long enough to be a random token.
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_VOWELS = frozenset("aeiouAEIOU")
#: A run longer than this is judged on its first characters (the check is a Python loop).
_MAX_JUDGED = 512

#: The thresholds of ``looks_random``, tuned on 27,000 random tokens (base64, base64url and
#: base62, 20 to 64 characters) against the 74,885 distinct words of 20+ characters in
#: CPython's and this venv's sources and paths plus UUIDs and SHA-1/SHA-256 hex digests:
#: 0.17 % of those words look random (most are base64 blobs: certificates, test fixtures; the
#: rest CamelCase names with digits, ``HTTP2MaxHeaderListSize``), as do 93 % of the random
#: tokens of 20-29 characters, 97.6 % of 30-39 and 98.7 % of 40+. Through ``scrub_text``
#: (runs split at ``/``, ``=``, ``:``), 0.04 % of the standard library's long words change and
#: 0.13 % of this venv's site-packages'. tests/sdk/test_scrubber.py measures it again.
ENTROPY_THRESHOLD = 3.7
MIN_CLASS_CHANGES = 0.35
MAX_VOWEL_SHARE = 0.35
MIN_TOKEN_LENGTH = 20


def looks_random(word: str) -> bool:
    """Whether a word of 20+ ``[A-Za-z0-9_+/=-]`` characters looks like a generated secret.

    A random base64/base62 word mixes upper case, lower case and digits, switches between
    them at most characters (a name switches once a syllable), has few vowels (a fifth of its
    letters, against two fifths in words and names) and a high Shannon entropy.
    """
    if len(word) < MIN_TOKEN_LENGTH:
        return False
    word = word[:_MAX_JUDGED]
    if _HEXISH.fullmatch(word):
        return False
    # Separators (- _ + / = .) are left out of the class changes: ``BSD-2-Clause-first-lines``
    # switches class at each dash, a random word does not need them to.
    classes = [0 if c.islower() else 1 if c.isupper() else 2 for c in word if c.isalnum()]
    if not (0 in classes and 1 in classes and 2 in classes):
        return False
    letters = len(classes) - classes.count(2)
    if sum(1 for c in word if c in _VOWELS) > MAX_VOWEL_SHARE * letters:
        return False
    changes = sum(1 for a, b in zip(classes, classes[1:], strict=False) if a != b)
    if changes < MIN_CLASS_CHANGES * (len(classes) - 1):
        return False
    return entropy(word) >= ENTROPY_THRESHOLD


def entropy(word: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(word)
    return -sum(count / n * math.log2(count / n) for count in Counter(word).values())


def _filtered_token(match: re.Match[str]) -> str:
    """A run with its known-format keys and its random-looking parts filtered."""
    run = _KNOWN.sub(FILTERED, match.group())
    if len(run) < MIN_TOKEN_LENGTH:
        return run
    parts = run.split(".")
    if not any(looks_random(part) for part in parts):
        return run
    return ".".join(FILTERED if looks_random(part) else part for part in parts)


def _filtered_known(match: re.Match[str]) -> str:
    return _KNOWN.sub(FILTERED, match.group())


class Scrubber:
    """Scrubs an event in place. One per client: it caches what it learnt about key names."""

    #: Subtrees that never carry user values: skipped whole, for speed.
    SKIPPED = frozenset(
        {
            "modules",
            "sdk",
            "threads",
            "event_id",
            "timestamp",
            "platform",
            "level",
            "release",
            "environment",
            "server_name",
            "mechanism",
            "type",
            "module",
            "filename",
            "abs_path",
            "function",
            "lineno",
            "in_app",
            "transaction",
        }
    )
    _MAX_NAMES = 4096
    #: Strings up to this long have their scrubbed form remembered (``_texts``): a process
    #: sends the same paths, argv, cwd and messages again and again.
    _MAX_REMEMBERED_TEXT = 512
    _MAX_TEXTS = 4096
    _MAX_SOURCES = 1024

    def __init__(self, *, send_default_pii: bool = False) -> None:
        self.send_default_pii = send_default_pii
        self._names: dict[str, bool] = {}
        self._texts: dict[str, str] = {}
        #: A frame's source lines (line, then pre, then post) to their scrubbed form, or None
        #: when they hold nothing to scrub: a process fails at the same few places.
        self._sources: dict[tuple[str, ...], tuple[str, ...] | None] = {}

    # -- names --

    def is_secret_name(self, name: str) -> bool:
        """Whether a key's value must go, whatever it looks like."""
        known = self._names.get(name)
        if known is None:
            key = name.lower().replace("-", "_")
            known = bool(_SECRET_NAME.search(key)) or (
                not self.send_default_pii and bool(_PII_NAME.search(key))
            )
            if len(self._names) >= self._MAX_NAMES:
                self._names.clear()
            self._names[name] = known
        return known

    # -- values --

    def scrub_text(self, text: str) -> str:
        """A string with every secret-shaped value replaced by ``[Filtered]``."""
        if len(text) < 8:
            return text
        known = self._texts.get(text)
        if known is not None:
            return known
        scrubbed = self._scrub_text(text)
        if len(text) <= self._MAX_REMEMBERED_TEXT:
            if len(self._texts) >= self._MAX_TEXTS:
                self._texts.clear()
            self._texts[text] = scrubbed
        return scrubbed

    def _scrub_text(self, text: str) -> str:
        if "-----BEGIN" in text:
            text = _PEM.sub(FILTERED, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(r"\1" + FILTERED + r"\3", text)
            if "hooks.slack.com" in text:
                text = _SLACK_WEBHOOK.sub(FILTERED, text)
        if _HINT.search(text.lower()):
            text = _AUTH_SCHEME.sub(r"\1" + FILTERED, text)
            if "=" in text or ":" in text:
                text = _PAIR.sub(self._filtered_pair, text)
        return _TOKEN.sub(_filtered_token, text)

    def scrub_source(self, line: str) -> str:
        """A source line with the unambiguous secret formats replaced."""
        if len(line) < 16:
            return line
        if "-----BEGIN" in line:
            line = _PEM.sub(FILTERED, line)
        if "://" in line:
            line = _URL_PASSWORD.sub(r"\1" + FILTERED + r"\3", line)
        return _TOKEN.sub(_filtered_known, line)

    def _scrubbed_source(self, lines: tuple[str, ...]) -> tuple[str, ...] | None:
        """``lines`` with ``scrub_source`` applied, or None when it changes none of them: one
        scan of the joined lines instead of three per line, once per place in the code."""
        if lines in self._sources:
            return self._sources[lines]
        text = "\n".join(lines)
        if (
            "-----BEGIN" in text
            or "://" in text
            or any(_KNOWN.search(run) is not None for run in _TOKEN.findall(text))
        ):
            scrubbed: tuple[str, ...] | None = tuple(self.scrub_source(line) for line in lines)
        else:
            scrubbed = None
        if len(self._sources) >= self._MAX_SOURCES:
            self._sources.clear()
        self._sources[lines] = scrubbed
        return scrubbed

    def _filtered_pair(self, match: re.Match[str]) -> str:
        name = match.group("name").strip("'\".")
        if not self.is_secret_name(name):
            return match.group()
        value = match.group("value")
        if value == FILTERED:
            return match.group()
        quote = value[0] if value[:1] in ("'", '"') else ""
        return f"{match.group('name')}{match.group('sep')}{quote}{FILTERED}{quote}"

    # -- the event --

    def scrub_event(self, event: dict[str, Any]) -> None:
        """Scrub ``event`` in place: every string it carries, by key name and by value."""
        for key, value in event.items():
            if key in self.SKIPPED:
                continue
            if key == "exception":
                self._scrub_exceptions(value)
            elif key == "request":
                self._scrub_request(value)
            else:
                event[key] = self.scrub(value, key)

    def _scrub_exceptions(self, exceptions: Any) -> None:
        for exc in (exceptions or {}).get("values") or ():
            if isinstance(exc.get("value"), str):
                exc["value"] = self.scrub_text(exc["value"])
            for frame in (exc.get("stacktrace") or {}).get("frames") or ():
                self._scrub_frame(frame)

    def _scrub_frame(self, frame: dict[str, Any]) -> None:
        line = frame.get("context_line")
        if isinstance(line, str):
            pre = frame.get("pre_context") or []
            post = frame.get("post_context") or []
            lines = (line, *pre, *post)
            if all(type(text) is str for text in lines):
                scrubbed = self._scrubbed_source(lines)
                if scrubbed is not None:
                    frame["context_line"] = scrubbed[0]
                    frame["pre_context"] = list(scrubbed[1 : 1 + len(pre)])
                    frame["post_context"] = list(scrubbed[1 + len(pre) :])
            else:
                frame["context_line"] = self.scrub(line)
                frame["pre_context"] = self.scrub(pre)
                frame["post_context"] = self.scrub(post)
        frame_vars = frame.get("vars")
        if frame_vars:
            secret, text = self.is_secret_name, self.scrub_text
            frame["vars"] = {
                name: FILTERED
                if value and secret(name)
                else text(value)
                if isinstance(value, str)
                else self.scrub(value, None, 1)
                for name, value in frame_vars.items()
            }

    def _scrub_request(self, request: Any) -> None:
        if not isinstance(request, dict):
            return
        for key, value in request.items():
            if key in ("headers", "cookies", "env", "data"):
                request[key] = self.scrub(value, key)
            elif isinstance(value, str):
                request[key] = self.scrub_text(value)

    def scrub(self, value: Any, name: str | None = None, depth: int = 0) -> Any:
        """``value`` with secrets filtered: containers are rebuilt, other values pass through.

        ``name`` is the key ``value`` was found under: a secret's name filters it whole.
        """
        if name is not None and value and self.is_secret_name(name):
            return FILTERED
        if isinstance(value, str):
            return self.scrub_text(value)
        if depth > 20:
            return FILTERED
        if isinstance(value, dict):
            return self._scrub_dict(value, depth + 1)
        if isinstance(value, (list, tuple)):
            return [self._scrub_item(item, depth + 1) for item in value]
        return value

    def _scrub_dict(self, value: dict[Any, Any], depth: int) -> dict[Any, Any]:
        # Written out, not a call per item: an event holds a few dozen of them, and a call
        # costs more than the work for a short string (see ``_scrub_item``).
        names, texts = self._names, self._texts
        scrubbed: dict[Any, Any] = {}
        for key, item in value.items():
            if item:
                if isinstance(key, str):
                    secret = names.get(key)
                    if secret is None:
                        secret = self.is_secret_name(key)
                    if secret:
                        scrubbed[key] = FILTERED
                        continue
                kind = type(item)
                if kind is str:
                    if len(item) >= 8:
                        known = texts.get(item)
                        item = known if known is not None else self.scrub_text(item)
                elif kind is not int and kind is not float and kind is not bool:
                    item = self.scrub(item, None, depth)
            scrubbed[key] = item
        return scrubbed

    def _scrub_item(self, item: Any, depth: int) -> Any:
        """``scrub(item, None, depth)`` with its most common cases inline."""
        kind = type(item)
        if kind is str:
            if len(item) < 8:
                return item
            known = self._texts.get(item)
            return known if known is not None else self.scrub_text(item)
        if kind is int or kind is float or kind is bool or item is None:
            return item
        return self.scrub(item, None, depth)
