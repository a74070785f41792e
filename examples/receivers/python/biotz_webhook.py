"""Verify Biotz IoT webhook requests with the Python standard library alone.

    from biotz_webhook import verify, VerificationError
    verify(secret, request.headers["Biotz-IoT-Signature"], raw_body)

Always verify the raw body bytes as received, before parsing them: re-serialising the JSON
changes the bytes and the signature no longer matches.
"""

import hashlib
import hmac
import time

DEFAULT_TOLERANCE = 300


class VerificationError(Exception):
    """The request is not authentic; `code` names the rule that failed."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def expected_signature(secret, timestamp, body):
    """Lowercase hex HMAC-SHA256 of `t.body` keyed with the secret exactly as shown (whsec_...)."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


MAX_TIMESTAMP = 2**63 - 1


def parse_header(header):
    """Returns (timestamp, its text as written, [v1, ...]) from a Biotz-IoT-Signature header."""
    timestamp = None
    text = None
    signatures = []
    for item in header.split(","):
        item = item.strip()
        if not item or "=" not in item:
            continue
        key, value = item.split("=", 1)
        key, value = key.strip(), value.strip()
        if key == "t":
            if timestamp is not None:
                raise VerificationError("multiple_timestamps", "more than one t= item")
            if not value.isascii() or not value.isdigit() or int(value) > MAX_TIMESTAMP:
                raise VerificationError("invalid_timestamp", "t= must be whole unix seconds")
            timestamp = int(value)
            text = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise VerificationError("no_timestamp", "the header has no t= item")
    if not signatures:
        raise VerificationError("no_signature", "the header has no v1= item")
    return timestamp, text, signatures


def verify(secret, header, body, now=None, tolerance=DEFAULT_TOLERANCE):
    """Raises VerificationError unless `header` signs `body` (bytes) under `secret`."""
    timestamp, text, signatures = parse_header(header)
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        raise VerificationError("timestamp_outside_tolerance", "timestamp outside tolerance")
    # The signature covers t exactly as written in the header (leading zeros included).
    expected = expected_signature(secret, text, body)
    # Check every candidate so the time taken does not depend on which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), expected.encode())
    if not matched:
        raise VerificationError("no_matching_signature", "no v1 matches this body and secret")
