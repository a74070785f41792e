// Verifies captured deliveries with the official JavaScript `standardwebhooks` library.
//
// Reads a JSON list of {"headers": {...}, "body": "...", "secrets": [...]}: every secret must
// verify its request, and the request with a changed body must be refused.
const fs = require("fs");
const { Webhook } = require("standardwebhooks");

let verified = 0;
for (const c of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) {
  for (const secret of c.secrets) {
    new Webhook(secret).verify(c.body, c.headers);
    verified += 1;
    let refused = false;
    try {
      new Webhook(secret).verify(c.body + " ", c.headers);
    } catch (e) {
      refused = true;
    }
    if (!refused) {
      console.error("a changed body verified");
      process.exit(1);
    }
  }
}
console.log(`verified ${verified}`);
