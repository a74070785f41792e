// Checks biotz-webhook.js against the vectors produced by the Rust signer.
//
// Usage: node check_vectors.js [path/to/signature/vectors.json]; exits 1 on any disagreement.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { VerificationError, expectedSignature, verify } = require("./biotz-webhook");

const file = process.argv[2] ?? path.join(__dirname, "..", "..", "..", "signature", "vectors.json");
const vectors = JSON.parse(fs.readFileSync(file, "utf8"));
const failures = [];

for (const c of vectors.signing) {
  const body = Buffer.from(c.body, "utf8");
  const parts = [`t=${c.timestamp}`];
  for (const secret of c.secrets) parts.push(`v1=${expectedSignature(secret, c.timestamp, body)}`);
  const header = parts.join(",");
  if (header !== c.header) failures.push(`signing ${JSON.stringify(c.name)}: got ${header}`);
}

for (const c of vectors.verification) {
  let got = null;
  try {
    verify(c.secret, c.header, Buffer.from(c.body, "utf8"), { now: c.now, tolerance: c.tolerance });
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    got = error.code;
  }
  if (got !== c.error) {
    failures.push(`verification ${JSON.stringify(c.name)}: expected ${c.error}, got ${got}`);
  }
}

const total = vectors.signing.length + vectors.verification.length;
for (const failure of failures) console.log("FAIL", failure);
console.log(`node: ${total - failures.length}/${total} vectors agree with biotz-signature`);
process.exit(failures.length ? 1 : 0);
