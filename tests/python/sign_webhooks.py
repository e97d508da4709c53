"""Signs random webhook deliveries with HubSpot's official Python client, as an oracle for the gateway's checks.

Prints one JSON object per line: version, secret, base (scheme and host), path (with query), body, timestamp (ms)
and signature. With STALE=1, v3 timestamps are 301 s old.
"""

import json
import os
import random
import string
import time

from hubspot.utils.signature import Signature

rng = random.Random(int(os.environ.get("SEED", "7")))
COUNT = int(os.environ.get("COUNT", "20"))
STALE = os.environ.get("STALE") == "1"


def word(n):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def event():
    kind = rng.choice(["creation", "deletion", "propertyChange", "someFutureKind"])
    e = {
        "eventId": rng.randrange(1, 2**31),
        "subscriptionId": rng.randrange(1, 10**6),
        "portalId": rng.randrange(1, 10**8),
        "appId": rng.randrange(1, 10**6),
        "occurredAt": rng.randrange(10**12, 2 * 10**12),
        "subscriptionType": rng.choice(["contact", "company", "deal", "ticket"]) + "." + kind,
        "attemptNumber": rng.randrange(0, 10),
        "objectId": rng.randrange(1, 10**10),
        "changeSource": "CRM",
    }
    if kind == "propertyChange":
        e["propertyName"] = word(8)
        e["propertyValue"] = rng.choice([word(12), "Zoë Müller — 東京", "", "a \"quoted\" value"])
    return e


for i in range(COUNT):
    version = ["v1", "v2", "v3"][i % 3]
    secret = word(36)
    base = rng.choice(["https", "http"]) + "://" + word(6).lower() + ".example.com"
    path = "/webhooks/hubspot" + rng.choice(["", "?x=" + word(4), "?a=1&b=" + word(3)])
    body = json.dumps([event() for _ in range(rng.randrange(1, 4))], ensure_ascii=rng.random() < 0.5)
    now_ms = int(time.time() * 1000) - (301_000 if STALE else rng.randrange(0, 60_000))
    timestamp = str(now_ms)
    signature = Signature.get_signature(secret, body, version, base + path, "POST", timestamp)
    print(json.dumps({"version": version, "secret": secret, "base": base, "path": path, "body": body,
                      "timestamp": timestamp, "signature": signature}))
