// A minimal Biotz IoT webhook receiver: Node.js standard library only (node:http).
//
// Run:  BIOTZ_WEBHOOK_SECRET=whsec_... PORT=8000 node server.js
// Then: POST http://127.0.0.1:$PORT/webhook. It listens on 127.0.0.1 only; Biotz calls https://
//       URLs alone, so in production put a TLS-terminating proxy in front of it.
//
// Each request is verified on its raw body bytes before the JSON is parsed, deduplicated on
// Biotz-IoT-Event-Id, answered at once (200, or 400 naming the failed rule) and handled
// afterwards, so slow work never makes Biotz time out and retry.
"use strict";

const http = require("node:http");
const { VerificationError, verify } = require("./biotz-webhook");

const MAX_BODY = 1024 * 1024;
const SEEN_CAPACITY = 10_000;

const secret = process.env.BIOTZ_WEBHOOK_SECRET;
if (!secret) {
  console.error("set BIOTZ_WEBHOOK_SECRET to the webhook's secret (whsec_...)");
  process.exit(1);
}
const port = Number(process.env.PORT ?? 8000);

// The ids of the last SEEN_CAPACITY events; a Set iterates in insertion order, oldest first.
const seen = new Set();
function firstTimeSeen(eventId) {
  if (seen.has(eventId)) return false;
  seen.add(eventId);
  if (seen.size > SEEN_CAPACITY) seen.delete(seen.values().next().value);
  return true;
}

// Your work goes here. It runs after the answer was sent.
async function handleEvent(event) {
  console.log(`event ${event.id} ${event.type}`);
}

function answer(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function fail(res, status, code, message) {
  answer(res, status, { error: { code, message } });
}

function onRequest(req, res, raw) {
  try {
    verify(secret, req.headers["biotz-iot-signature"], raw);
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    return fail(res, 400, error.code, error.message);
  }
  // Only now is the body trusted enough to parse.
  let event;
  try {
    event = JSON.parse(raw.toString("utf8"));
  } catch {
    return fail(res, 400, "invalid_json", "not JSON");
  }
  const eventId = req.headers["biotz-iot-event-id"];
  if (!eventId) return fail(res, 400, "no_event_id", "no Biotz-IoT-Event-Id header");
  if (!firstTimeSeen(eventId)) return answer(res, 200, { received: true, duplicate: true });
  answer(res, 200, { received: true });
  setImmediate(() => handleEvent(event).catch((error) => console.error("handling failed:", error)));
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/webhook") {
    return fail(res, 404, "not_found", "POST /webhook");
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > MAX_BODY) return fail(res, 413, "body_too_large", "over 1 MiB");
    onRequest(req, res, Buffer.concat(chunks));
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}/webhook`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
