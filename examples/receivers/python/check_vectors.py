"""Checks biotz_webhook.py against the vectors produced by the Rust signer.

Usage: python3 check_vectors.py [path/to/signature/vectors.json]; exits 1 on any disagreement.
"""

import json
import os
import sys

from biotz_webhook import VerificationError, expected_signature, verify

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "..", "signature", "vectors.json")


def main():
    with open(sys.argv[1] if len(sys.argv) > 1 else DEFAULT, encoding="utf-8") as f:
        vectors = json.load(f)
    failures = []
    for case in vectors["signing"]:
        body = case["body"].encode("utf-8")
        parts = [f"t={case['timestamp']}"]
        parts += [f"v1={expected_signature(s, case['timestamp'], body)}" for s in case["secrets"]]
        if ",".join(parts) != case["header"]:
            failures.append(f"signing {case['name']!r}: got {','.join(parts)}")
    for case in vectors["verification"]:
        try:
            verify(case["secret"], case["header"], case["body"].encode("utf-8"),
                   now=case["now"], tolerance=case["tolerance"])
            got = None
        except VerificationError as error:
            got = error.code
        if got != case["error"]:
            failures.append(f"verification {case['name']!r}: expected {case['error']}, got {got}")
    total = len(vectors["signing"]) + len(vectors["verification"])
    for failure in failures:
        print("FAIL", failure)
    print(f"python: {total - len(failures)}/{total} vectors agree with biotz-signature")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
