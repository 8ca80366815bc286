-- wrk script: signed POST /webhooks/stripe, a distinct event per request.
-- TALLY_STRIPE_EVENTS names a file of lines "<Stripe-Signature>\t<body>" (ops/bench-ingress
-- makes it; signing in Lua per request would measure wrk, not the ingress). Each wrk thread
-- takes its own slice of the file, so no event is sent twice unless the file runs out.
local lines = {}
local index = 0
local threads = {}

function setup(thread)
    thread:set("thread_index", #threads)
    table.insert(threads, thread)
    thread:set("thread_count", 0)
end

function init(args)
    local count = tonumber(os.getenv("TALLY_WRK_THREADS") or "1")
    local n = 0
    for line in io.lines(os.getenv("TALLY_STRIPE_EVENTS")) do
        if n % count == thread_index then table.insert(lines, line) end
        n = n + 1
    end
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    index = index + 1
    if index > #lines then index = 1 end
    local line = lines[index]
    local tab = string.find(line, "\t", 1, true)
    wrk.headers["Stripe-Signature"] = string.sub(line, 1, tab - 1)
    return wrk.format(nil, "/webhooks/stripe", nil, string.sub(line, tab + 1))
end

function done(summary, latency, requests)
    io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
