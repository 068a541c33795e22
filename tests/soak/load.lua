-- wrk script for tests/soak/load.sh: each connection sends a mix of
-- GET /v1/entries (45%), GET /v1/counts (45%) and POST /v1/events (10%),
-- and every thread counts the responses by status code. done() prints
-- one line "statuses {json}" with the totals of all threads.

local threads = {}
local counter = 0

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
    sent = 0
end

local function event_body()
    counter = counter + 1
    return string.format(
        '{"name":"publishing.scheduled","data":{"contentItemId":' ..
        '"load-%d-%d","platforms":["blog","sink"],' ..
        '"content":{"text":"load test post %d"}}}', id, counter, counter)
end

function request()
    sent = sent + 1
    local pick = sent % 20
    if pick < 2 then
        return wrk.format("POST", "/v1/events",
            {["Content-Type"] = "application/json"}, event_body())
    elseif pick < 11 then
        return wrk.format("GET", "/v1/entries?limit=20")
    end
    return wrk.format("GET", "/v1/counts")
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local totals = {}
    for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("statuses")) do
            totals[status] = (totals[status] or 0) + count
        end
    end
    local parts = {}
    for status, count in pairs(totals) do
        table.insert(parts, string.format('"%d": %d', status, count))
    end
    io.write(string.format(
        'statuses {%s}\nerrors {"connect": %d, "read": %d, "write": %d, ' ..
        '"timeout": %d, "status": %d}\nlatency_ms {"p50": %.1f, ' ..
        '"p99": %.1f, "max": %.1f}\nrequests %d\n',
        table.concat(parts, ", "), summary.errors.connect,
        summary.errors.read, summary.errors.write, summary.errors.timeout,
        summary.errors.status, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000,
        summary.requests))
end
