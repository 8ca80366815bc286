#!/usr/bin/env bash
# The sample flow ops/run shows once everything is up: an API key, an account, a signed Stripe
# top-up whose credits come from the Stripe API, usage with Prefer: wait, a crypto purchase
# (quote → signed BitGo webhook → confirmations → credits), the account and the queue's stats.
# $1: the tally binary. Reads TALLY_LISTEN, DATABASE_URL, the webhook secrets, and BITGO_BASE_URL
# and BITGO_WALLET_BTC of the local BitGo stand-in (tally-dev-fakes), whose /_dev/transfers route
# plays the user paying. Exits 1 naming the step that did not complete in time.
set -euo pipefail
bin="$1"
base="http://$TALLY_LISTEN"

# Polls `$@` (quietly) every 0.1 s until it succeeds, for at most 10 s.
wait_for() {
    local what="$1"; shift
    for _ in $(seq 1 100); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "the sample flow stopped: $what did not happen within 10 s" >&2
    exit 1
}

# The value of a string field in compact JSON (the ingress and `tally --json` print it so).
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }

# `tally purchases show` says STATUS.
purchase_is() { "$bin" purchases show "$1" --json | grep -q "\"status\":\"$2\""; }

wait_for "the ingress answering" curl -fsS "$base/healthz"
user="demo-user-$(date +%s)"
echo
echo "Sample flow for user $user"
# The command announces the key on stderr and prints it alone on the next line (stdout).
created=$("$bin" apikey create ops-run-demo 2>&1)
printf '%s\n' "$created"
key=$(printf '%s\n' "$created" | tail -n 1)

echo "1. open the account (waits for the job):"
curl -sS -X POST "$base/v1/accounts" -H "Authorization: Bearer $key" -H 'Prefer: wait=5' \
    -H 'Content-Type: application/json' -d "{\"user_id\": \"$user\"}"; echo

echo "2. a signed Stripe checkout for a top-up; its credits come from the Stripe API's line items:"
body=$(printf '{"id":"evt_demo_%s","object":"event","type":"checkout.session.completed","created":%s,"api_version":"2025-08-27.basil","data":{"object":{"id":"cs_demo_%s","object":"checkout.session","mode":"payment","payment_status":"paid","client_reference_id":"%s","amount_total":1999,"currency":"usd","payment_intent":"pi_demo_%s","metadata":{"user_id":"%s"}}}}' \
    "$user" "$(date +%s)" "$user" "$user" "$user" "$user")
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$STRIPE_WEBHOOK_SECRET" | sed 's/^.* //')
curl -sS -X POST "$base/webhooks/stripe" -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' -d "$body"; echo
wait_for "the top-up's 500 credits" sh -c "'$bin' accounts show '$user' --json | grep -q '\"balance\":505'"

echo "3. usage of 7 units of the default agent, waiting for the outcome:"
curl -sS -X POST "$base/v1/usage" -H "Authorization: Bearer $key" -H 'Prefer: wait=5' -H 'Content-Type: application/json' \
    -d "{\"user_id\": \"$user\", \"agent\": \"default\", \"units\": 7, \"idempotency_key\": \"demo-1\"}"; echo

echo "4. a crypto purchase of topup_500 in BTC: the quote (priced from CoinGecko, a deposit address from BitGo):"
quote=$(curl -sS -X POST "$base/v1/purchases/crypto" -H "Authorization: Bearer $key" -H 'Prefer: wait=10' \
    -H 'Content-Type: application/json' -d "{\"user_id\": \"$user\", \"product\": \"topup_500\", \"coin\": \"btc\", \"idempotency_key\": \"demo-crypto-1\"}")
echo "$quote"
purchase=$(printf '%s' "$quote" | field purchase_id)
address=$(printf '%s' "$quote" | field address)
amount=$(printf '%s' "$quote" | field amount_base_units)
if [ -z "$purchase" ] || [ -z "$address" ] || [ -z "$amount" ]; then
    echo "the sample flow stopped: the quote has no purchase, address or amount" >&2
    exit 1
fi

# The user pays: BitGo sees a transfer of the amount to the address, and calls the webhook.
transfer="demo-transfer-$user"
pay() {
    curl -fsS -X POST "$BITGO_BASE_URL/_dev/transfers" -H 'Content-Type: application/json' \
        -d "{\"id\": \"$transfer\", \"coin\": \"btc\", \"address\": \"$address\", \"amount\": \"$amount\", \"confirmations\": $1}" >/dev/null
    local hook
    hook=$(printf '{"hash":"%s","transfer":"%s","coin":"btc","type":"transfer","state":"%s","wallet":"%s"}' \
        "$(printf '%s' "$transfer" | openssl dgst -sha256 | sed 's/^.* //')" "$transfer" "$2" "$BITGO_WALLET_BTC")
    local hook_sig
    hook_sig=$(printf '%s' "$hook" | openssl dgst -sha256 -hmac "$BITGO_WEBHOOK_SECRET" | sed 's/^.* //')
    curl -sS -X POST "$base/webhooks/bitgo" -H "X-Signature-SHA256: $hook_sig" -H 'Content-Type: application/json' -d "$hook"; echo
}
echo "5. the user pays $amount satoshi to $address; BitGo's signed webhook, 1 confirmation of 3:"
pay 1 unconfirmed
wait_for "the payment seen with 1 confirmation" purchase_is "$purchase" confirming
"$bin" purchases show "$purchase" --json | field status | sed 's/^/   purchase status: /'
echo "6. three confirmations, another webhook: the credits arrive"
pay 3 confirmed
wait_for "the purchase paid" purchase_is "$purchase" paid
"$bin" purchases show "$purchase"

echo "7. the account (5 trial + 500 Stripe - 7 usage + 500 crypto):"
"$bin" accounts show "$user"
echo "8. the queue:"
"$bin" jobs stats
