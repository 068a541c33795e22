-- POSTs publishing.scheduled events to pubq, BENCH_BATCH per request (1:
-- one event object, more: a JSON array), each with a content id of its
-- own. Each thread stops after its share of BENCH_EVENTS events, so a
-- run sends BENCH_EVENTS events in all (rounded up to whole requests).
local events = tonumber(os.getenv("BENCH_EVENTS") or "10000")
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local at = os.getenv("BENCH_AT") or "2030-01-01T00:00:00Z"
local platform = os.getenv("BENCH_PLATFORM") or "sink"
local counter = 1

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    sent = 0
    answered = 0
    limit = math.ceil(events / batch / tonumber(os.getenv("BENCH_THREADS")))
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

local function event(n)
    return string.format('{"name":"publishing.scheduled","data":' ..
        '{"contentItemId":"t%d-%d","platforms":["%s"],' ..
        '"scheduledAt":"%s","content":{"text":"hello %d"}}}',
        id, n, platform, at, n)
end

function request()
    local parts = {}
    for i = 1, batch do
        sent = sent + 1
        parts[i] = event(sent)
    end
    local body = parts[1]
    if batch > 1 then
        body = "[" .. table.concat(parts, ",") .. "]"
    end
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    answered = answered + 1
    if answered >= limit then
        wrk.thread:stop()
    end
end
