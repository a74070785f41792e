"""Drives a running receiver recipe over HTTP and checks its answers.

Usage: python3 smoke_test.py URL SECRET   (URL like http://127.0.0.1:8000/webhook)

Sends signed and badly signed requests the way Biotz would and expects: 200 for a fresh event,
200 marked as a duplicate for the same Biotz-IoT-Event-Id again, and 400 naming the failed rule
otherwise. Waits up to 30 s for the server to start listening. Exits 1 on any wrong answer.
"""

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def sign(secret, timestamp, body):
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_listening(url, deadline):
    while True:
        try:
            post(url, b"", {})
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def envelope(event_id):
    return json.dumps(
        {"id": event_id, "type": "webhook.test", "created_at": "2026-11-27T17:20:56.123Z",
         "data": {"note": "smoke test ❄"}},
        ensure_ascii=False, separators=(",", ":"),
    ).encode("utf-8")


def main():
    url, secret = sys.argv[1], sys.argv[2]
    wait_until_listening(url, time.monotonic() + 30)

    event_id = "evt_smoke_" + uuid.uuid4().hex
    body = envelope(event_id)

    def headers(timestamp=None, signed_body=body, key=secret, attempt=1):
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {
            "Content-Type": "application/json",
            "Biotz-IoT-Signature": f"t={timestamp},v1={sign(key, timestamp, signed_body)}",
            "Biotz-IoT-Event-Id": event_id,
            "Biotz-IoT-Delivery-Id": "dlv_smoke",
            "Biotz-IoT-Delivery-Attempt": str(attempt),
        }

    not_json = b"this is not JSON"
    cases = [
        # (what, body, headers, expected status, text the answer must contain, or must not
        # contain when it starts with "!")
        ("fresh event", body, headers(), 200, "!duplicate"),
        ("same event again (a retry)", body, headers(attempt=2), 200, "duplicate"),
        ("tampered body", body.replace(b"smoke", b"smoky"), headers(), 400,
         "no_matching_signature"),
        ("wrong secret", body, headers(key="whsec_wrong"), 400, "no_matching_signature"),
        ("stale timestamp", body, headers(timestamp=int(time.time()) - 3600), 400,
         "timestamp_outside_tolerance"),
        ("no signature header", body, {"Biotz-IoT-Event-Id": event_id}, 400, "no_timestamp"),
        ("unsigned garbage is refused before parsing", not_json, headers(), 400,
         "no_matching_signature"),
        ("signed but not JSON", not_json, headers(signed_body=not_json), 400, "invalid_json"),
    ]
    failures = 0
    for what, case_body, case_headers, status, needle in cases:
        got_status, got_body = post(url, case_body, case_headers)
        text = got_body.decode("utf-8", "replace")
        if needle.startswith("!"):
            text_ok, wanted = needle[1:] not in text, f"{status} not mentioning {needle[1:]}"
        else:
            text_ok, wanted = needle in text, f"{status} mentioning {needle}"
        if got_status != status or not text_ok:
            failures += 1
            print(f"FAIL {what}: expected {wanted}, got {got_status} {text.strip()}")
    print(f"smoke test {url}: {len(cases) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
