-- wrk script: POST /v1/usage with a distinct idempotency key per request.
-- Environment: TALLY_API_KEY (the bearer key), TALLY_RUN (a run id so runs never collide).
local counter = 0
local thread_id = 0
local threads = {}
local run = os.getenv("TALLY_RUN") or tostring(os.time())

function setup(thread)
    thread:set("thread_id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("TALLY_API_KEY")
end

function request()
    counter = counter + 1
    local body = string.format('{"user_id":"bench-%d","agent":"default","units":1,"idempotency_key":"%s-%d-%d"}',
        counter % 1000, run, thread_id, counter)
    return wrk.format(nil, "/v1/usage", nil, body)
end

function done(summary, latency, requests)
    local non2xx = summary.errors.status
    io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, non2xx,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
