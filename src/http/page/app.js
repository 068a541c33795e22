/*
 * The publishing page: counts, jobs with their queue entries, attempt
 * history, actions and live updates from /v1/stream.
 *
 * Every string that comes from the API (content, errors, ids, platform
 * names) reaches the DOM through textContent, createTextNode or
 * setAttribute, never through innerHTML, so markup in a post or an error
 * shows as text. The daemon's Content-Security-Policy allows no inline
 * script or style, so this file uses classes and the hidden attribute
 * instead of style properties.
 */
(function () {
    'use strict';

    const PAGE_SIZE = 100;
    /*
     * New entries shown live between two reloads. A bulk import beyond
     * this shows a "show newer" button instead, so the page keeps a
     * bounded number of rows.
     */
    const LIVE_INSERT_MAX = 100;
    const STATUSES = ['pending', 'publishing', 'published', 'retrying',
        'failed', 'cancelled'];
    const REASON_UNKNOWN = 'outcome unknown';
    const TOKEN_KEY = 'pubq.apiToken';
    const COLUMN_COUNT = 10;
    const CONFIRM_MS = 4000;
    const MESSAGE_MS = 8000;
    const STREAM_RETRY_MAX_MS = 30000;
    /* Pauses end and resumes happen without an entry changing. */
    const PLATFORMS_REFRESH_MS = 30000;

    const state = {
        filter: { status: '', platform: '', contentId: '' },
        next: null,
        oldestId: Infinity,
        liveInserted: 0,
        newerIds: new Set(),  /* new entries not shown, past the cap */
        entries: new Map(),   /* entry id -> { entry, row, detail } */
        groups: new Map(),    /* job id -> { tbody, newestId } */
        expanded: new Set(),  /* entry ids whose detail is open */
        detailTimers: new Map(),
        generation: 0,        /* bumped on reload; stale replies drop */
        reloading: false,
        buffered: [],         /* stream entries that arrived mid-reload */
        tokenWaiters: [],     /* requests to send again once a token is set */
        countsTimer: null,
        platformsTimer: null,
        platformNames: '',    /* the platform list last rendered */
        pauses: '',           /* the pauses last rendered */
        messageTimer: null
    };

    const dom = {};

    const numberFormat = new Intl.NumberFormat();
    const dateFormat = new Intl.DateTimeFormat(undefined, {
        year: 'numeric', month: 'short', day: 'numeric',
        hour: '2-digit', minute: '2-digit', second: '2-digit'
    });

    /* ---- DOM helpers ---------------------------------------------- */

    /* Creates an element. Strings among children become text nodes. */
    function el(tag, attributes, ...children) {
        const node = document.createElement(tag);

        for (const [name, value] of Object.entries(attributes || {})) {
            if (value === null || value === undefined || value === false)
                continue;
            if (name === 'className')
                node.className = value;
            else if (name === 'text')
                node.textContent = String(value);
            else
                node.setAttribute(name, value === true ? '' : String(value));
        }
        for (const child of children) {
            if (child === null || child === undefined)
                continue;
            node.append(typeof child === 'string'
                ? document.createTextNode(child) : child);
        }
        return node;
    }

    function dash() {
        return el('span', { className: 'none', text: '—' });
    }

    function hiddenText(text) {
        return el('span', { className: 'visually-hidden', text: text });
    }

    function timeNode(iso) {
        if (!iso)
            return dash();

        const date = new Date(iso);
        if (Number.isNaN(date.getTime()))
            return el('span', { text: iso });
        return el('time', { datetime: iso, title: iso },
            dateFormat.format(date));
    }

    /* Formats a duration in milliseconds as "850 ms", "12 s", "5 min". */
    function formatDuration(ms) {
        const seconds = Math.floor(ms / 1000);

        if (ms < 1000)
            return Math.round(ms) + ' ms';
        if (seconds < 60)
            return seconds + ' s';
        if (seconds < 3600)
            return Math.floor(seconds / 60) + ' min';
        if (seconds < 172800) {
            const minutes = Math.floor(seconds / 60) % 60;
            return Math.floor(seconds / 3600) + ' h' +
                (minutes ? ' ' + minutes + ' min' : '');
        }
        return Math.floor(seconds / 86400) + ' d ' +
            Math.floor(seconds / 3600) % 24 + ' h';
    }

    /* Returns the URL when it is http or https, else null. */
    function webUrl(text) {
        if (typeof text !== 'string' || text === '')
            return null;
        try {
            const url = new URL(text);
            if (url.protocol === 'http:' || url.protocol === 'https:')
                return url.href;
        } catch (error) {
            return null;
        }
        return null;
    }

    function showMessage(text, kind) {
        dom.message.textContent = text;
        dom.message.className = 'message ' + (kind || 'info');
        dom.message.hidden = false;
        clearTimeout(state.messageTimer);
        state.messageTimer = setTimeout(function () {
            dom.message.hidden = true;
        }, MESSAGE_MS);
    }

    /* ---- API ------------------------------------------------------ */

    function errorText(response, data) {
        const error = data && data.error;

        if (typeof error === 'string')
            return error;
        if (error && typeof error.message === 'string')
            return error.field ? error.field + ': ' + error.message
                : error.message;
        return 'HTTP ' + response.status + ' ' + response.statusText;
    }

    /*
     * Sends one request and returns the parsed JSON reply. Throws an
     * Error with `status` set on an HTTP error, and the API's own message
     * when the reply carries one.
     */
    async function api(method, path) {
        const headers = { Accept: 'application/json' };
        const token = sessionStorage.getItem(TOKEN_KEY);

        /* The server rejects a POST without this type, body or not. */
        if (method === 'POST')
            headers['Content-Type'] = 'application/json';
        if (token)
            headers.Authorization = 'Bearer ' + token;

        const response = await fetch(path, {
            method: method, headers: headers, cache: 'no-store'
        });
        const body = await response.text();
        let data = null;
        try {
            data = body ? JSON.parse(body) : null;
        } catch (error) {
            data = null;
        }

        if (!response.ok) {
            const error = new Error(errorText(response, data));
            error.status = response.status;
            throw error;
        }
        return data;
    }

    function entriesPath(before) {
        const query = new URLSearchParams();

        for (const [name, value] of Object.entries(state.filter)) {
            if (value)
                query.set(name, value);
        }
        if (before !== null && before !== undefined)
            query.set('before', before);
        query.set('limit', String(PAGE_SIZE));
        return '/v1/entries?' + query.toString();
    }

    /* ---- API token ------------------------------------------------ */

    /* Shows the token form; `retry` runs once a token is saved. */
    function askToken(retry, rejected) {
        state.tokenWaiters.push(retry);
        dom.tokenPanel.hidden = false;
        if (rejected)
            showMessage('The saved API token was rejected; enter it again.',
                'error');
        dom.tokenInput.focus();
    }

    function saveToken(event) {
        event.preventDefault();

        const token = dom.tokenInput.value.trim();
        if (!token)
            return;
        sessionStorage.setItem(TOKEN_KEY, token);
        dom.tokenInput.value = '';
        dom.tokenPanel.hidden = true;

        const waiters = state.tokenWaiters;
        state.tokenWaiters = [];
        for (const retry of waiters)
            retry();
    }

    /*
     * Sends a POST for an action. On 401 shows the token form, and the
     * returned promise waits until a token is saved and the request is
     * sent again. Resolves to the reply, or to null on an error, which
     * is shown as a message.
     */
    async function post(path, describe) {
        try {
            return await api('POST', path);
        } catch (error) {
            if (error.status === 401) {
                const hadToken = sessionStorage.getItem(TOKEN_KEY) !== null;
                sessionStorage.removeItem(TOKEN_KEY);
                return new Promise(function (resolve) {
                    askToken(function () {
                        resolve(post(path, describe));
                    }, hadToken);
                });
            }
            showMessage(describe + ' failed: ' + error.message, 'error');
            return null;
        }
    }

    /* ---- counts --------------------------------------------------- */

    function statusCounts(source) {
        const counts = {};

        for (const status of STATUSES)
            counts[status] = Number((source && source[status]) || 0);
        return counts;
    }

    /*
     * Reads the counts reply: {"all": {status: n, "total": n},
     * "platforms": {name: {status: n, "total": n}}}.
     */
    function readCounts(data) {
        const platforms = [];

        for (const [name, counts] of Object.entries(data.platforms || {}))
            platforms.push({ name: name, counts: statusCounts(counts) });
        platforms.sort(function (a, b) {
            return a.name.localeCompare(b.name);
        });
        return { total: statusCounts(data.all), platforms: platforms };
    }

    function countButton(status, count, label) {
        const pressed = state.filter.status === status;

        return el('li', { 'data-status': status || 'all' },
            el('button', {
                type: 'button',
                className: 'count status-' + (status || 'all'),
                'aria-pressed': pressed ? 'true' : 'false',
                'data-filter-status': status,
                title: status ? 'Show only ' + status + ' entries'
                    : 'Show all entries'
            },
            el('span', { className: 'count-number', 'data-count': count,
                text: numberFormat.format(count) }),
            el('span', { className: 'count-label', text: label })));
    }

    function renderCounts(data) {
        const counts = readCounts(data);
        let total = 0;
        const items = [];

        for (const status of STATUSES) {
            total += counts.total[status];
            items.push(countButton(status, counts.total[status], status));
        }
        items.unshift(countButton('', total, 'total'));
        dom.counts.replaceChildren(...items);
        renderPlatformCounts(counts.platforms);
    }

    function renderPlatformCounts(platforms) {
        const head = el('tr', {}, el('th', { scope: 'col', text: 'Platform' }),
            ...STATUSES.map(function (status) {
                return el('th', { scope: 'col', text: status });
            }));
        const rows = platforms.map(function (platform) {
            return el('tr', {}, el('th', { scope: 'row', text: platform.name }),
                ...STATUSES.map(function (status) {
                    return el('td', { 'data-label': status },
                        String(platform.counts[status]));
                }));
        });

        dom.platformCounts.tHead.replaceChildren(head);
        dom.platformCounts.tBodies[0].replaceChildren(...rows);
    }

    async function refreshCounts() {
        try {
            renderCounts(await api('GET', '/v1/counts'));
        } catch (error) {
            showMessage('Loading counts failed: ' + error.message, 'error');
        }
    }

    /*
     * Refreshes counts from the API a second after entries change, at
     * most once a second. The counts then follow the rows even when the
     * stream's own counts event is late or missing.
     */
    function scheduleCounts() {
        if (state.countsTimer)
            return;
        state.countsTimer = setTimeout(function () {
            state.countsTimer = null;
            refreshCounts();
        }, 1000);
    }

    /* ---- platforms and pauses ------------------------------------- */

    /* A platform paused until a time, or until resumed (pausedUntil null). */
    function pauseBanner(platform) {
        const resume = el('button', {
            type: 'button', 'data-action': 'resume',
            'data-platform': platform.name
        }, 'Resume ', el('span', { text: platform.name }));
        const text = el('p', {},
            el('strong', { text: 'Paused: ' + platform.name }),
            ' until ', platform.pausedUntil ? timeNode(platform.pausedUntil)
                : 'resumed by hand');

        if (platform.pauseReason)
            text.append('. Reason: ', el('span',
                { className: 'reason', text: platform.pauseReason }));
        return el('div', { className: 'banner', 'data-platform':
            platform.name }, text, resume);
    }

    /*
     * Rebuilds the platform options and the banners only when they
     * change, so the periodic refresh keeps focus and an open menu.
     */
    function renderPlatforms(platforms) {
        const names = JSON.stringify(platforms.map(function (platform) {
            return [platform.name, platform.type];
        }));
        const paused = platforms.filter(function (platform) {
            return platform.paused;
        });
        const pauses = JSON.stringify(paused);

        if (names !== state.platformNames) {
            state.platformNames = names;
            renderPlatformOptions(platforms);
        }
        if (pauses !== state.pauses) {
            state.pauses = pauses;
            dom.paused.replaceChildren(...paused.map(pauseBanner));
        }
    }

    function renderPlatformOptions(platforms) {
        const selected = state.filter.platform;
        const options = [el('option', { value: '', text: 'all' })];

        for (const platform of platforms) {
            options.push(el('option', {
                value: platform.name,
                text: platform.name + ' (' + platform.type + ')'
            }));
        }
        dom.platformSelect.replaceChildren(...options);
        dom.platformSelect.value = selected;
    }

    async function refreshPlatforms() {
        try {
            const data = await api('GET', '/v1/platforms');
            renderPlatforms(data.platforms);
        } catch (error) {
            showMessage('Loading platforms failed: ' + error.message,
                'error');
        }
    }

    function schedulePlatforms() {
        if (state.platformsTimer)
            return;
        state.platformsTimer = setTimeout(function () {
            state.platformsTimer = null;
            refreshPlatforms();
        }, 1000);
    }

    async function resumePlatform(name) {
        const reply = await post('/v1/platforms/' +
            encodeURIComponent(name) + '/resume', 'Resuming ' + name);

        if (reply !== null) {
            showMessage('Resumed ' + name + '.', 'info');
            refreshPlatforms();
        }
    }

    /* ---- entry rows ----------------------------------------------- */

    function statusCell(entry) {
        const cell = el('td', { 'data-label': 'Status' },
            el('span', { className: 'badge status-' + entry.status,
                text: entry.status }));

        if (entry.failReason)
            cell.append(' ', el('span', { className: 'reason',
                text: entry.failReason }));
        if (entry.status === 'publishing' && entry.leaseNode)
            cell.append(' ', el('span', { className: 'node',
                text: 'on ' + entry.leaseNode }));
        return cell;
    }

    function publishedCell(entry) {
        const cell = el('td', { 'data-label': 'Published' });
        const url = webUrl(entry.postUrl);

        if (!entry.publishedAt && !entry.postUrl && !entry.postId) {
            cell.append(dash());
            return cell;
        }
        if (entry.publishedAt)
            cell.append(timeNode(entry.publishedAt));
        if (url) {
            cell.append(' ', el('a', {
                href: url, rel: 'noopener noreferrer', target: '_blank',
                className: 'post-link'
            }, 'view post', hiddenText(' on ' + entry.platform)));
        } else if (entry.postUrl || entry.postId) {
            cell.append(' ', el('span', { className: 'post-id',
                text: entry.postUrl || entry.postId }));
        }
        return cell;
    }

    function lateCell(entry) {
        /* lateMs is null for failed and cancelled entries. */
        const late = Number(entry.lateMs) || 0;
        const cell = el('td', { 'data-label': 'Late' });

        /* Under a second is scheduling noise, not lateness. */
        if (late < 1000) {
            cell.append(dash());
            return cell;
        }
        cell.append(el('span', { className: 'late',
            text: formatDuration(late) + ' late' }));
        return cell;
    }

    function errorCell(entry) {
        const cell = el('td', { 'data-label': 'Latest error' });

        if (!entry.lastError)
            cell.append(dash());
        else
            cell.append(el('span', { className: 'error-text',
                title: entry.lastError, text: entry.lastError }));
        return cell;
    }

    function actionButton(action, label, entry) {
        return el('button', {
            type: 'button',
            className: action === 'cancel' ? 'secondary' : null,
            'data-action': action,
            'data-entry-id': entry.id
        }, label, hiddenText(' entry ' + entry.id + ' on ' + entry.platform));
    }

    function actionsCell(entry) {
        const cell = el('td', { 'data-label': 'Actions', className: 'actions' });
        const unknown = entry.failReason === REASON_UNKNOWN;

        if (entry.status === 'failed') {
            cell.append(actionButton('retry',
                unknown ? 'Retry anyway' : 'Retry', entry));
            if (unknown)
                cell.append(actionButton('mark-published', 'Mark published',
                    entry));
        }
        if (['pending', 'retrying', 'failed'].includes(entry.status))
            cell.append(actionButton('cancel', 'Cancel', entry));
        if (!cell.firstChild)
            cell.append(dash());
        return cell;
    }

    function expandCell(entry) {
        const open = state.expanded.has(entry.id);

        return el('td', { className: 'expand' },
            el('button', {
                type: 'button',
                className: 'toggle',
                'data-action': 'expand',
                'data-entry-id': entry.id,
                'aria-expanded': open ? 'true' : 'false',
                'aria-controls': 'detail-' + entry.id
            }, el('span', { className: 'arrow', 'aria-hidden': 'true',
                text: open ? '▾' : '▸' }),
            el('span', { className: 'toggle-label', text: 'Attempts' }),
            hiddenText(' of entry ' + entry.id + ' on ' + entry.platform)));
    }

    function entryCells(entry) {
        return [
            expandCell(entry),
            el('td', { 'data-label': 'Platform', className: 'platform',
                text: entry.platform }),
            statusCell(entry),
            el('td', { 'data-label': 'Scheduled' }, timeNode(entry.scheduledAt)),
            el('td', { 'data-label': 'Retries', className: 'retries',
                text: entry.retryCount + ' / ' + entry.maxRetries }),
            el('td', { 'data-label': 'Next attempt' },
                timeNode(entry.nextAttemptAt)),
            lateCell(entry),
            publishedCell(entry),
            errorCell(entry),
            actionsCell(entry)
        ];
    }

    /* Fills a row from an entry, keeping focus on the same control. */
    function fillRow(row, entry) {
        const focused = row.contains(document.activeElement)
            ? document.activeElement.getAttribute('data-action') : null;

        row.className = 'entry status-' + entry.status;
        row.setAttribute('data-entry-id', entry.id);
        row.setAttribute('data-status', entry.status);
        row.replaceChildren(...entryCells(entry));
        if (focused) {
            const again = row.querySelector('[data-action="' + focused + '"]');
            if (again)
                again.focus();
        }
    }

    /* ---- job groups ----------------------------------------------- */

    function groupHeader(entry) {
        return el('tr', { className: 'job' },
            el('th', { scope: 'rowgroup', colspan: COLUMN_COUNT },
                el('span', { className: 'job-label', text: 'Content ' }),
                el('span', { className: 'content-id', text: entry.contentId }),
                ' ',
                el('span', { className: 'job-id', text: 'job ' + entry.jobId })));
    }

    /* Returns the tbody of the entry's job, creating it in id order. */
    function groupFor(entry) {
        let group = state.groups.get(entry.jobId);

        if (group) {
            group.newestId = Math.max(group.newestId, entry.id);
            return group.tbody;
        }

        const tbody = el('tbody', { className: 'group',
            'data-job-id': entry.jobId }, groupHeader(entry));
        group = { tbody: tbody, newestId: entry.id };
        state.groups.set(entry.jobId, group);

        let before = null;
        for (const other of state.groups.values()) {
            if (other !== group && other.newestId < entry.id &&
                (!before || other.newestId > before.newestId))
                before = other;
        }
        dom.table.insertBefore(tbody, before ? before.tbody : null);
        return tbody;
    }

    /* Inserts a row into its job group, entries in ascending id order. */
    function placeRow(tbody, row, id) {
        for (const other of tbody.querySelectorAll('tr.entry')) {
            if (Number(other.getAttribute('data-entry-id')) > id) {
                tbody.insertBefore(row, other);
                return;
            }
        }
        tbody.append(row);
    }

    /* Adds or updates the row of an entry; returns true when it was new. */
    function upsertEntry(entry, flash) {
        const known = state.entries.get(entry.id);

        if (known) {
            /* RFC 3339 UTC times of one format sort as text. */
            if (entry.updatedAt < known.entry.updatedAt)
                return false;

            const changed = known.entry.updatedAt !== entry.updatedAt ||
                known.entry.status !== entry.status;
            known.entry = entry;
            fillRow(known.row, entry);
            if (flash && changed)
                flashRow(known.row);
            if (state.expanded.has(entry.id) && changed)
                scheduleDetail(entry.id);
            return false;
        }

        const row = el('tr', {});
        fillRow(row, entry);
        placeRow(groupFor(entry), row, entry.id);
        state.entries.set(entry.id, { entry: entry, row: row, detail: null });
        state.oldestId = Math.min(state.oldestId, entry.id);
        if (flash)
            flashRow(row);
        return true;
    }

    function flashRow(row) {
        row.classList.remove('changed');
        /* Reading the layout restarts the CSS animation. */
        void row.offsetWidth;
        row.classList.add('changed');
    }

    function matchesFilter(entry) {
        const filter = state.filter;

        return (!filter.status || entry.status === filter.status) &&
            (!filter.platform || entry.platform === filter.platform) &&
            (!filter.contentId || entry.contentId === filter.contentId);
    }

    /*
     * Applies an entry from the stream. A known row is updated even when
     * it no longer matches the filter, so the change stays visible. A new
     * matching entry is shown when it falls inside the loaded range; an
     * older one arrives with "load more".
     */
    function applyLiveEntry(entry) {
        if (state.reloading) {
            state.buffered.push(entry);
            return;
        }
        if (state.entries.has(entry.id)) {
            upsertEntry(entry, true);
        } else if (matchesFilter(entry) &&
                   (state.next === null || entry.id > state.oldestId)) {
            if (state.liveInserted < LIVE_INSERT_MAX) {
                state.liveInserted++;
                upsertEntry(entry, true);
            } else {
                state.newerIds.add(entry.id);
            }
            updateSummary();
        }
        if (entry.status === 'retrying' || entry.status === 'failed')
            schedulePlatforms();
        scheduleCounts();
    }

    function updateSummary() {
        const count = state.entries.size;

        dom.summary.textContent = count === 0 ? '' : 'Showing ' + count +
            (count === 1 ? ' entry' : ' entries') +
            (state.next !== null ? '; older entries below' : '');
        dom.empty.hidden = count !== 0;
        dom.loadMore.hidden = state.next === null;

        const newer = state.newerIds.size;
        dom.showNewer.hidden = newer === 0;
        dom.showNewer.textContent = 'Show ' + newer + ' newer ' +
            (newer === 1 ? 'entry' : 'entries');
    }

    /* ---- entry detail --------------------------------------------- */

    /*
     * An unfinished attempt has no outcome: it is running while it is the
     * last attempt of a publishing entry, otherwise its node stopped
     * before recording a result.
     */
    function outcomeText(attempt, index, attempts, entry) {
        if (attempt.outcome)
            return attempt.outcome;
        if (entry.status === 'publishing' && index === attempts.length - 1)
            return 'running';
        return 'abandoned';
    }

    function attemptsTable(attempts, entry) {
        if (!attempts || attempts.length === 0)
            return el('p', { className: 'none', text: 'No attempts yet.' });

        const head = el('tr', {}, ...['#', 'Started', 'Ended', 'Outcome',
            'HTTP status', 'Latency', 'Node', 'Error'].map(function (name) {
            return el('th', { scope: 'col', text: name });
        }));
        const rows = attempts.map(function (attempt, index) {
            const outcome = outcomeText(attempt, index, attempts, entry);

            return el('tr', { className: 'attempt outcome-' + outcome },
                el('td', { 'data-label': '#', text: attempt.number }),
                el('td', { 'data-label': 'Started' },
                    timeNode(attempt.startedAt)),
                el('td', { 'data-label': 'Ended' }, timeNode(attempt.endedAt)),
                el('td', { 'data-label': 'Outcome' }, el('span', {
                    className: 'outcome', text: outcome })),
                el('td', { 'data-label': 'HTTP status' }, attempt.httpStatus
                    ? String(attempt.httpStatus) : dash()),
                el('td', { 'data-label': 'Latency' },
                    attempt.latencyMs === null || attempt.latencyMs === undefined
                        ? dash() : attempt.latencyMs + ' ms'),
                el('td', { 'data-label': 'Node' },
                    attempt.node ? attempt.node : dash()),
                el('td', { 'data-label': 'Error', className: 'attempt-error' },
                    attempt.error ? attempt.error : dash()));
        });

        return el('table', { className: 'attempts' },
            el('caption', { text: 'Attempts, oldest first' }),
            el('thead', {}, head), el('tbody', {}, ...rows));
    }

    function contentBlock(content) {
        const block = el('dl', { className: 'content' });
        const link = content && webUrl(content.link);

        function add(name, value) {
            block.append(el('dt', { text: name }), el('dd', {}, value));
        }

        if (!content)
            return block;
        if (content.title)
            add('Title', content.title);
        if (content.text !== undefined)
            add('Text', el('span', { className: 'content-text',
                text: content.text }));
        if (content.link)
            add('Link', link ? el('a', { href: link, rel:
                'noopener noreferrer', target: '_blank', text: link })
                : content.link);
        if (Array.isArray(content.media) && content.media.length)
            add('Media', content.media.join(' '));
        if (Array.isArray(content.tags) && content.tags.length)
            add('Tags', content.tags.join(', '));
        return block;
    }

    /* The GET /v1/entries/{id} reply: {"entry", "attempts", "job"}. */
    function detailBody(detail) {
        const entry = detail.entry;
        const facts = el('p', { className: 'facts' },
            'Entry ' + entry.id + ', attempt count ' + entry.attemptCount +
            ', created ', timeNode(entry.createdAt), ', updated ',
            timeNode(entry.updatedAt));
        const parts = [el('h3', { text: 'Content' }),
            contentBlock(detail.job && detail.job.content), facts];

        if (entry.lastError)
            parts.push(el('h3', { text: 'Latest error' }),
                el('p', { className: 'last-error', text: entry.lastError }));
        parts.push(el('h3', { text: 'Attempt history' }),
            attemptsTable(detail.attempts, entry));
        return parts;
    }

    async function loadDetail(id) {
        const known = state.entries.get(id);
        if (!known || !known.detail)
            return;

        const cell = known.detail.firstChild;
        try {
            const detail = await api('GET', '/v1/entries/' +
                encodeURIComponent(id));
            if (state.expanded.has(id))
                cell.replaceChildren(...detailBody(detail));
        } catch (error) {
            cell.replaceChildren(el('p', { className: 'message error',
                text: 'Loading the attempt history failed: ' +
                    error.message }));
        }
    }

    /* Reloads an open detail after an update, at most every 300 ms. */
    function scheduleDetail(id) {
        if (state.detailTimers.has(id))
            return;
        state.detailTimers.set(id, setTimeout(function () {
            state.detailTimers.delete(id);
            loadDetail(id);
        }, 300));
    }

    function toggleDetail(id) {
        const known = state.entries.get(id);
        if (!known)
            return;

        if (state.expanded.has(id)) {
            state.expanded.delete(id);
            if (known.detail)
                known.detail.remove();
            known.detail = null;
            fillRow(known.row, known.entry);
            return;
        }

        state.expanded.add(id);
        known.detail = el('tr', { className: 'detail', id: 'detail-' + id },
            el('td', { colspan: COLUMN_COUNT },
                el('p', { className: 'none', text: 'Loading…' })));
        known.row.after(known.detail);
        fillRow(known.row, known.entry);
        loadDetail(id);
    }

    /* ---- loading -------------------------------------------------- */

    function clearEntries() {
        for (const group of state.groups.values())
            group.tbody.remove();
        for (const timer of state.detailTimers.values())
            clearTimeout(timer);
        state.entries.clear();
        state.groups.clear();
        state.expanded.clear();
        state.detailTimers.clear();
        state.next = null;
        state.oldestId = Infinity;
        state.liveInserted = 0;
        state.newerIds.clear();
    }

    /*
     * Loads the first page for the current filter, replacing the list.
     * Stream entries that arrive meanwhile are held back and applied on
     * top of the page, so a change made while the page loads is kept.
     */
    async function reload() {
        const generation = ++state.generation;

        state.reloading = true;
        dom.loadMore.hidden = true;
        try {
            const data = await api('GET', entriesPath(null));
            if (generation !== state.generation)
                return;
            clearEntries();
            for (const entry of data.entries)
                upsertEntry(entry, false);
            state.next = data.next === undefined ? null : data.next;
        } catch (error) {
            if (generation !== state.generation)
                return;
            showMessage('Loading entries failed: ' + error.message, 'error');
        }

        const buffered = state.buffered;
        state.buffered = [];
        state.reloading = false;
        for (const entry of buffered)
            applyLiveEntry(entry);
        updateSummary();
    }

    async function loadMore() {
        const generation = state.generation;

        dom.loadMore.disabled = true;
        try {
            const data = await api('GET', entriesPath(state.next));
            if (generation !== state.generation)
                return;
            for (const entry of data.entries)
                upsertEntry(entry, false);
            state.next = data.next === undefined ? null : data.next;
        } catch (error) {
            showMessage('Loading more entries failed: ' + error.message,
                'error');
        } finally {
            dom.loadMore.disabled = false;
        }
        updateSummary();
    }

    /* Catches up on changes the stream did not carry. */
    async function resync() {
        refreshCounts();
        refreshPlatforms();
        try {
            const data = await api('GET', entriesPath(null));
            for (const entry of data.entries)
                applyLiveEntry(entry);
        } catch (error) {
            showMessage('Catching up failed: ' + error.message, 'error');
        }
    }

    /* ---- filters -------------------------------------------------- */

    function readFilterForm() {
        state.filter = {
            status: dom.statusSelect.value,
            platform: dom.platformSelect.value,
            contentId: dom.contentInput.value.trim()
        };

        const query = new URLSearchParams();
        for (const [name, value] of Object.entries(state.filter)) {
            if (value)
                query.set(name, value);
        }
        const search = query.toString();
        history.replaceState(null, '', search ? '?' + search : location.pathname);
        reload();
        refreshCounts();
    }

    function readFilterUrl() {
        const query = new URLSearchParams(location.search);
        const status = query.get('status') || '';

        state.filter = {
            status: STATUSES.includes(status) ? status : '',
            platform: query.get('platform') || '',
            contentId: query.get('contentId') || ''
        };
        dom.statusSelect.value = state.filter.status;
        dom.contentInput.value = state.filter.contentId;
    }

    /* ---- actions -------------------------------------------------- */

    function confirmCancel(button) {
        if (button.getAttribute('data-confirm') === 'yes')
            return true;

        button.setAttribute('data-confirm', 'yes');
        button.classList.add('confirm');
        button.firstChild.textContent = 'Confirm cancel';
        setTimeout(function () {
            if (!button.isConnected)
                return;
            button.removeAttribute('data-confirm');
            button.classList.remove('confirm');
            button.firstChild.textContent = 'Cancel';
        }, CONFIRM_MS);
        return false;
    }

    async function entryAction(action, id, button) {
        const names = { retry: 'Retry', cancel: 'Cancel',
            'mark-published': 'Mark published' };

        if (action === 'cancel' && !confirmCancel(button))
            return;

        button.disabled = true;
        const reply = await post('/v1/entries/' + encodeURIComponent(id) +
            '/' + action, names[action] + ' of entry ' + id);
        if (button.isConnected)
            button.disabled = false;
        if (reply && reply.entry) {
            upsertEntry(reply.entry, true);
            scheduleCounts();
        }
    }

    function onClick(event) {
        const button = event.target.closest('button[data-action]');
        if (!button)
            return;

        const action = button.getAttribute('data-action');
        const id = Number(button.getAttribute('data-entry-id'));
        if (action === 'expand')
            toggleDetail(id);
        else if (action === 'resume')
            resumePlatform(button.getAttribute('data-platform'));
        else
            entryAction(action, id, button);
    }

    function onCountClick(event) {
        const button = event.target.closest('button[data-filter-status]');
        if (!button)
            return;
        dom.statusSelect.value = button.getAttribute('data-filter-status');
        readFilterForm();
    }

    /* ---- live stream ---------------------------------------------- */

    function setConnection(text, kind) {
        dom.connection.textContent = text;
        dom.connection.className = 'connection ' + kind;
    }

    function parseEvent(event) {
        try {
            return JSON.parse(event.data);
        } catch (error) {
            return null;
        }
    }

    /*
     * Opens /v1/stream. EventSource reconnects by itself after a dropped
     * connection. It gives up when the server responds with an error
     * status, and then a new one is opened after a growing delay.
     */
    function connectStream(delay) {
        const source = new EventSource('/v1/stream');

        /*
         * The stream sends only changes made after it connected, so every
         * (re)connection reads the first page again to catch up.
         */
        source.addEventListener('open', function () {
            setConnection('live', 'live');
            resync();
            delay = 0;
        });
        source.addEventListener('error', function () {
            if (source.readyState !== EventSource.CLOSED) {
                setConnection('reconnecting…', 'waiting');
                return;
            }
            const wait = Math.min(STREAM_RETRY_MAX_MS,
                Math.max(1000, delay * 2));
            setConnection('disconnected; retrying in ' +
                Math.round(wait / 1000) + ' s', 'down');
            setTimeout(function () { connectStream(wait); }, wait);
        });
        source.addEventListener('entry', function (event) {
            const entry = parseEvent(event);
            if (entry && entry.id !== undefined)
                applyLiveEntry(entry);
        });
        source.addEventListener('counts', function (event) {
            const counts = parseEvent(event);
            if (counts)
                renderCounts(counts);
        });
        /* The client fell too far behind for the stream to catch up. */
        source.addEventListener('reset', function () {
            reload();
            refreshCounts();
            refreshPlatforms();
        });
    }

    /* ---- start ---------------------------------------------------- */

    function start() {
        dom.message = document.getElementById('message');
        dom.connection = document.getElementById('connection');
        dom.counts = document.getElementById('counts');
        dom.platformCounts = document.getElementById('platform-counts');
        dom.paused = document.getElementById('paused');
        dom.table = document.getElementById('entries');
        dom.summary = document.getElementById('entries-summary');
        dom.empty = document.getElementById('empty');
        dom.loadMore = document.getElementById('load-more');
        dom.showNewer = document.getElementById('show-newer');
        dom.filters = document.getElementById('filters');
        dom.statusSelect = document.getElementById('filter-status');
        dom.platformSelect = document.getElementById('filter-platform');
        dom.contentInput = document.getElementById('filter-content');
        dom.tokenPanel = document.getElementById('token-panel');
        dom.tokenInput = document.getElementById('token-input');

        document.getElementById('zone').textContent = 'Times in ' +
            Intl.DateTimeFormat().resolvedOptions().timeZone;

        readFilterUrl();
        dom.filters.addEventListener('submit', function (event) {
            event.preventDefault();
            readFilterForm();
        });
        dom.filters.addEventListener('reset', function () {
            setTimeout(readFilterForm, 0);
        });
        dom.statusSelect.addEventListener('change', readFilterForm);
        dom.platformSelect.addEventListener('change', readFilterForm);
        dom.loadMore.addEventListener('click', loadMore);
        dom.showNewer.addEventListener('click', reload);
        document.getElementById('token-form')
            .addEventListener('submit', saveToken);
        document.querySelector('main').addEventListener('click', onClick);
        dom.counts.addEventListener('click', onCountClick);

        refreshPlatforms();
        setInterval(refreshPlatforms, PLATFORMS_REFRESH_MS);
        refreshCounts();
        reload();
        connectStream(0);
    }

    document.addEventListener('DOMContentLoaded', start);
}());
