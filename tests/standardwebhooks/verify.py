"""Verifies captured deliveries with the official Python `standardwebhooks` library.

Reads a JSON list of {"headers": {...}, "body": "...", "secrets": [...]}: every secret must
verify its request, and the request with a changed body must be refused."""
import json
import sys

from standardwebhooks import Webhook, WebhookVerificationError

verified = 0
for case in json.load(open(sys.argv[1])):
    for secret in case["secrets"]:
        Webhook(secret).verify(case["body"], case["headers"])
        verified += 1
        try:
            Webhook(secret).verify(case["body"] + " ", case["headers"])
        except WebhookVerificationError:
            pass
        else:
            sys.exit("a changed body verified")
print(f"verified {verified}")
