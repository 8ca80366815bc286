"""Writes N signed Stripe events, one per line: "<Stripe-Signature>\t<body>" (for stripe.lua)."""
import hashlib, hmac, sys, time

secret, count, run = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = int(time.time())
key = secret.encode()
out = sys.stdout
for i in range(count):
    body = ('{"id":"evt_%s_%d","object":"event","type":"invoice.paid","created":%d,'
            '"api_version":"2025-08-27.basil","data":{"object":{"id":"in_%d","amount_paid":999}}}' % (run, i, t, i))
    sig = hmac.new(key, (str(t) + "." + body).encode(), hashlib.sha256).hexdigest()
    out.write("t=%d,v1=%s\t%s\n" % (t, sig, body))
