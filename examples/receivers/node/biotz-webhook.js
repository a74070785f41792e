// Verify Biotz IoT webhook requests with Node.js's standard library alone.
//
//   const { verify, VerificationError } = require("./biotz-webhook");
//   verify(secret, req.headers["biotz-iot-signature"], rawBody); // throws VerificationError
//
// Always verify the raw body bytes as received, before parsing them: re-serialising the JSON
// changes the bytes and the signature no longer matches.
"use strict";

const crypto = require("node:crypto");

const DEFAULT_TOLERANCE = 300;
// The largest timestamp the reference verifier accepts (an i64); more digits is invalid_timestamp.
const MAX_TIMESTAMP = 2n ** 63n - 1n;

class VerificationError extends Error {
  // `code` names the rule that failed: no_timestamp, multiple_timestamps, invalid_timestamp,
  // no_signature, timestamp_outside_tolerance or no_matching_signature.
  constructor(code, message) {
    super(message);
    this.name = "VerificationError";
    this.code = code;
  }
}

// Lowercase hex HMAC-SHA256 of `t.body` keyed with the secret exactly as shown (whsec_...).
// `timestamp` is t's text (or a number); `body` a Buffer (or a string, as UTF-8).
function expectedSignature(secret, timestamp, body) {
  return crypto
    .createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(`${timestamp}.`)
    .update(body)
    .digest("hex");
}

// Returns { timestamp: BigInt, text, signatures: [v1, ...] } from a Biotz-IoT-Signature header
// value; `text` is t exactly as written.
function parseHeader(header) {
  let timestamp = null;
  let text = null;
  const signatures = [];
  for (const rawItem of String(header ?? "").split(",")) {
    const item = rawItem.trim();
    const eq = item.indexOf("=");
    if (item === "" || eq === -1) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === "t") {
      if (timestamp !== null) {
        throw new VerificationError("multiple_timestamps", "more than one t= item");
      }
      if (!/^[0-9]+$/.test(value) || BigInt(value) > MAX_TIMESTAMP) {
        throw new VerificationError("invalid_timestamp", "t= must be whole unix seconds");
      }
      timestamp = BigInt(value);
      text = value;
    } else if (key === "v1") {
      signatures.push(value);
    }
  }
  if (timestamp === null) throw new VerificationError("no_timestamp", "the header has no t= item");
  if (signatures.length === 0) {
    throw new VerificationError("no_signature", "the header has no v1= item");
  }
  return { timestamp, text, signatures };
}

// Throws VerificationError unless `header` signs `body` (a Buffer) under `secret`.
// `now` is unix seconds (default: the clock); `tolerance` is in seconds.
function verify(secret, header, body, { now, tolerance = DEFAULT_TOLERANCE } = {}) {
  const { timestamp, text, signatures } = parseHeader(header);
  const clock = BigInt(now ?? Math.floor(Date.now() / 1000));
  const drift = clock > timestamp ? clock - timestamp : timestamp - clock;
  if (drift > BigInt(tolerance)) {
    throw new VerificationError(
      "timestamp_outside_tolerance",
      `timestamp outside tolerance: t=${timestamp} is ${drift}s from now, more than ${tolerance}s`,
    );
  }
  // The signature covers t exactly as written in the header (leading zeros included).
  const expected = Buffer.from(expectedSignature(secret, text, body), "utf8");
  // Compare every candidate, so the time taken does not depend on which one matched.
  // timingSafeEqual needs equal lengths; a length mismatch is no secret (v1 is always 64 hex).
  let matched = false;
  for (const signature of signatures) {
    const candidate = Buffer.from(signature, "utf8");
    if (candidate.length === expected.length && crypto.timingSafeEqual(candidate, expected)) {
      matched = true;
    }
  }
  if (!matched) {
    throw new VerificationError("no_matching_signature", "no v1 matches this body and secret");
  }
}

module.exports = { DEFAULT_TOLERANCE, VerificationError, expectedSignature, parseHeader, verify };
