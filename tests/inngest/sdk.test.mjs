// Sends events to a running `pubq serve` with the real Inngest SDK
// (the `inngest` npm package), as an application that already uses it
// would, and checks the queue through the pubq API.
// tests/integration/inngest_sdk.sh starts the daemon and sets:
//   PUBQ_URL    base URL of the daemon
//   PUBQ_TOKEN  the daemon's API token, used as the Inngest event key
//
// The SDK posts a JSON array of events to `${baseUrl}/e/${eventKey}` and
// expects the reply {"ids": [string...], "status": 200}; any other reply
// is an error, retried up to 5 times with backoff before send() rejects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inngest } from 'inngest';

const env = (name) => {
    const value = process.env[name];
    if (!value)
        throw new Error(`${name} is not set; run tests/integration/inngest_sdk.sh`);
    return value;
};
const BASE = env('PUBQ_URL');
const TOKEN = env('PUBQ_TOKEN');

async function entriesOf(contentId) {
    const response = await fetch(
        `${BASE}/v1/entries?contentId=${encodeURIComponent(contentId)}`);
    assert.equal(response.status, 200);
    return (await response.json()).entries;
}

function client(eventKey) {
    return new Inngest({ id: 'pubq-sdk-test', eventKey, baseUrl: BASE });
}

function scheduled(contentItemId, extra = {}) {
    return {
        name: 'publishing.scheduled',
        data: {
            contentItemId,
            platforms: ['outbox', 'archive'],
            scheduledAt: '2099-01-01T09:00:00+01:00',
            content: { text: `Sent with the Inngest SDK: ${contentItemId}` },
        },
        ...extra,
    };
}

test('send creates a job with one entry per platform', async () => {
    const reply = await client(TOKEN).send(scheduled('sdk-one'));

    assert.equal(reply.ids.length, 1);
    assert.equal(typeof reply.ids[0], 'string');
    const entries = await entriesOf('sdk-one');
    assert.deepEqual(entries.map((e) => e.platform).sort(),
        ['archive', 'outbox']);
    assert.ok(entries.every((e) => e.status === 'pending'));
    assert.equal(entries[0].scheduledAt, '2099-01-01T08:00:00.000Z');
});

test('send of an array creates every job', async () => {
    const reply = await client(TOKEN).send(
        [scheduled('sdk-array-1'), scheduled('sdk-array-2')]);

    assert.equal(reply.ids.length, 2);
    assert.equal((await entriesOf('sdk-array-1')).length, 2);
    assert.equal((await entriesOf('sdk-array-2')).length, 2);
});

test('environment variables select pubq', async () => {
    const saved = { ...process.env };
    process.env.INNGEST_BASE_URL = BASE;
    process.env.INNGEST_EVENT_KEY = TOKEN;
    try {
        const inngest = new Inngest({ id: 'pubq-sdk-env-test' });
        await inngest.send(scheduled('sdk-env'));
    } finally {
        delete process.env.INNGEST_BASE_URL;
        delete process.env.INNGEST_EVENT_KEY;
        Object.assign(process.env, saved);
    }
    assert.equal((await entriesOf('sdk-env')).length, 2);
});

test('event id makes a repeated send idempotent', async () => {
    const inngest = client(TOKEN);
    const first = await inngest.send(scheduled('sdk-dedupe',
        { id: 'sdk-dedupe-key' }));
    const second = await inngest.send(scheduled('sdk-dedupe',
        { id: 'sdk-dedupe-key' }));

    assert.deepEqual(first.ids, ['sdk-dedupe-key']);
    assert.deepEqual(second.ids, ['sdk-dedupe-key']);
    assert.equal((await entriesOf('sdk-dedupe')).length, 2);
});

test('cancelled event cancels the pending entries', async () => {
    const inngest = client(TOKEN);
    await inngest.send(scheduled('sdk-cancel'));
    await inngest.send({
        name: 'publishing.cancelled',
        data: { contentItemId: 'sdk-cancel', platforms: ['archive'] },
    });

    const entries = await entriesOf('sdk-cancel');
    const status = Object.fromEntries(entries.map((e) => [e.platform,
        e.status]));
    assert.deepEqual(status, { archive: 'cancelled', outbox: 'pending' });
});

test('wrong event key is rejected', async () => {
    await assert.rejects(client('not-the-key').send(scheduled('sdk-badkey')),
        /401/);
    assert.equal((await entriesOf('sdk-badkey')).length, 0);
});

test('invalid event is rejected and stores nothing', async () => {
    const event = scheduled('sdk-invalid');
    event.data.platforms = ['outbox', 'nosuch'];

    await assert.rejects(client(TOKEN).send(event),
        /400 \[0\]\.data\.platforms\[1\]: unknown platform "nosuch"/);
    assert.equal((await entriesOf('sdk-invalid')).length, 0);
});

test('retry after a lost reply stores the event once', async () => {
    let calls = 0;
    // Delivers the first request, then drops its reply, as a connection
    // reset after the daemon stored the event would.
    const lossyFetch = async (url, init) => {
        const response = await fetch(url, init);
        calls += 1;
        if (calls === 1)
            throw new Error('connection reset after the request was sent');
        return response;
    };
    const inngest = new Inngest({
        id: 'pubq-sdk-retry-test', eventKey: TOKEN, baseUrl: BASE,
        fetch: lossyFetch,
    });

    const reply = await inngest.send(scheduled('sdk-retry'));

    assert.equal(calls, 2);
    assert.match(reply.ids[0], /^inngest-seed:/);
    assert.equal((await entriesOf('sdk-retry')).length, 2);
});
