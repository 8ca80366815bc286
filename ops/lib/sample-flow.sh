#!/usr/bin/env bash
# The sample flow ops/run shows once everything is up: an API key, a signed Stripe top-up,
# usage with Prefer: wait, the account and the queue's stats. $1: the tally binary.
set -euo pipefail
bin="$1"
base="http://$TALLY_LISTEN"
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
user="demo-user-$(date +%s)"
key=$("$bin" apikey create ops-run-demo | tail -n 1)
echo
echo "Sample flow for user $user (API key: $key)"
echo "1. open the account (waits for the job):"
curl -sS -X POST "$base/v1/accounts" -H "Authorization: Bearer $key" -H 'Prefer: wait=5' \
    -H 'Content-Type: application/json' -d "{\"user_id\": \"$user\"}"; echo
echo "2. a signed Stripe checkout for 500 credits:"
body=$(printf '{"id":"evt_demo_%s","object":"event","type":"checkout.session.completed","created":%s,"api_version":"2025-08-27.basil","data":{"object":{"id":"cs_demo_%s","object":"checkout.session","mode":"payment","payment_status":"paid","client_reference_id":"%s","amount_total":1999,"currency":"usd","payment_intent":"pi_demo_%s","metadata":{"user_id":"%s","credits":"500"}}}}' \
    "$user" "$(date +%s)" "$user" "$user" "$user" "$user")
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$STRIPE_WEBHOOK_SECRET" | sed 's/^.* //')
curl -sS -X POST "$base/webhooks/stripe" -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' -d "$body"; echo
for _ in $(seq 1 50); do
    "$bin" accounts show "$user" --json 2>/dev/null | grep -q '"balance":50[0-9]' && break; sleep 0.1
done
echo "3. usage of 7 units of the default agent, waiting for the outcome:"
curl -sS -X POST "$base/v1/usage" -H "Authorization: Bearer $key" -H 'Prefer: wait=5' -H 'Content-Type: application/json' \
    -d "{\"user_id\": \"$user\", \"agent\": \"default\", \"units\": 7, \"idempotency_key\": \"demo-1\"}"; echo
echo "4. the account:"
"$bin" accounts show "$user"
echo "5. the queue:"
"$bin" jobs stats
