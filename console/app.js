// The shipsync ops console: plain browser JavaScript, no build step. Every figure comes from the gateway's
// /v1/ops routes and every action goes through the existing /v1 API with the signed-in principal's token.
'use strict';

(function () {
  const TOKEN_KEY = 'shipsync.token';
  /** Who the token belongs to (principal and roles, nothing secret), kept for the tab's next page load. */
  const ME_KEY = 'shipsync.me';
  const POLL_MS = 2000;
  const PHASES = [
    'released',
    'validating',
    'on_hold',
    'published',
    'planned',
    'in_transit',
    'delivered',
    'failed_attempt',
    'returning',
    'returned',
    'billing',
    'awaiting_approval',
    'closed',
  ];
  const VIEWS = [
    { id: 'today', label: 'Today', roles: null },
    { id: 'exceptions', label: 'Exceptions', roles: null },
    { id: 'invoices', label: 'Invoice-ready', roles: null },
    { id: 'dead-letters', label: 'Dead letters', roles: ['admin'] },
    { id: 'health', label: 'Vendor health', roles: null },
  ];

  let me = null;
  let timer = null;
  /** Bumped by every route change, so a poll of a view left behind stops instead of running on. */
  let generation = 0;
  /** Aborts the requests of the view left behind, so a late answer never paints over the new view. */
  let aborter = new AbortController();
  let charts = [];
  /** The trend last drawn, so a poll that brings the same trend leaves the charts alone. */
  let drawnTrend = '';
  /** chart.js, loaded once and only by the view that draws charts (after its figures are on the page). */
  let chartLib = null;
  const PAGE_SIZE = 100;

  /** Creates an element: h('td', {class: 'num'}, 'text', child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const hasRole = (...roles) => !!me && me.roles.some((r) => roles.includes(r));
  const pct = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)} %`);
  const min = (m) => (m === null || m === undefined ? '–' : `${Math.round(m)} min`);
  const time = (iso) => (iso ? iso.replace('T', ' ').slice(0, 16) : '–');
  const idemKey = () =>
    crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;

  async function api(method, path, body, headers) {
    const res = await fetch(path, {
      method,
      signal: aborter.signal,
      headers: {
        authorization: `Bearer ${token()}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(headers || {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { message: text };
    }
    if (res.status === 401) {
      signOut('Your token was refused; sign in again.');
      throw new Error(json.message || 'unauthenticated');
    }
    if (!res.ok) {
      const err = new Error(`${json.code || res.status}: ${json.message || ''}`);
      err.body = json;
      throw err;
    }
    return json;
  }

  function main() {
    return document.getElementById('main');
  }

  function setView(...nodes) {
    for (const c of charts) c.destroy();
    charts = [];
    drawnTrend = '';
    delete main().dataset.paged;
    main().replaceChildren(...nodes);
  }

  function loadChartLib() {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (!chartLib)
      chartLib = new Promise((resolve, reject) => {
        const script = h('script', { src: '/ops/vendor/chart.umd.min.js' });
        script.addEventListener('load', () => resolve(window.Chart));
        script.addEventListener('error', () => {
          chartLib = null;
          reject(new Error('chart.js did not load'));
        });
        document.head.append(script);
      });
    return chartLib;
  }

  function remember(principal) {
    me = principal;
    sessionStorage.setItem(ME_KEY, JSON.stringify(principal));
  }

  function remembered() {
    try {
      const m = JSON.parse(sessionStorage.getItem(ME_KEY) || 'null');
      return m && typeof m.principal === 'string' && Array.isArray(m.roles) ? m : null;
    } catch {
      return null;
    }
  }

  /** Asks who the token belongs to, outside any view (a route change does not abort it). */
  async function fetchMe() {
    const res = await fetch('/v1/ops/me', { headers: { authorization: `Bearer ${token()}` } });
    if (res.status === 401) {
      signOut('Your token was refused; sign in again.');
      return null;
    }
    return res.ok ? res.json() : null;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ME_KEY);
    if (message) sessionStorage.setItem('shipsync.signin-message', message);
    me = null;
    location.hash = '';
    location.reload();
  }

  async function signIn(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
    try {
      remember(await api('GET', '/v1/ops/me'));
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      throw err;
    }
  }

  function renderChrome() {
    const nav = document.getElementById('nav');
    nav.hidden = false;
    nav.replaceChildren(
      ...VIEWS.filter((v) => !v.roles || hasRole(...v.roles)).map((v) =>
        h('a', { href: `#/${v.id}`, 'data-view': v.id }, v.label),
      ),
    );
    document
      .getElementById('who')
      .replaceChildren(
        h('span', { 'data-testid': 'principal' }, `${me.principal} (${me.roles.join(', ')})`),
        h('button', { class: 'secondary', onclick: () => signOut() }, 'Sign out'),
      );
  }

  function route() {
    if (timer) clearTimeout(timer);
    timer = null;
    const gen = ++generation;
    aborter.abort();
    aborter = new AbortController();
    const [, view = 'today', arg] = (location.hash || '#/today').split('/');
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === view);
    const render = {
      today: renderToday,
      exceptions: renderExceptions,
      shipment: () => renderShipment(decodeURIComponent(arg || '')),
      invoices: renderInvoices,
      'dead-letters': renderDeadLetters,
      health: renderHealth,
    }[view];
    if (!render) return setView(h('p', { class: 'error' }, `No view ${view}`));
    let first = true;
    const tick = async () => {
      if (gen !== generation) return;
      try {
        await render(first);
        first = false;
      } catch (err) {
        if (first && gen === generation)
          setView(h('p', { class: 'error', role: 'alert' }, String(err.message || err)));
      }
      // Only the live views poll; a detail view stays as it was loaded until refreshed.
      if (gen === generation && ['today', 'exceptions', 'health', 'invoices'].includes(view))
        timer = setTimeout(tick, POLL_MS);
    };
    void tick();
  }

  const shipmentLink = (id) =>
    h('a', { href: `#/shipment/${encodeURIComponent(id)}`, 'data-shipment': id }, id);

  function tile(label, value, testid) {
    return h(
      'div',
      { class: 'tile' },
      h('div', { class: 'label' }, label),
      h('div', { class: 'value', 'data-testid': testid }, value),
    );
  }

  async function renderToday(first) {
    const t = await api('GET', '/v1/ops/today');
    const k = t.kpis ? t.kpis.all : null;
    const regions = [...new Set(t.counts.map((c) => c.region))].sort();
    const count = (phase, region) =>
      t.counts
        .filter((c) => c.phase === phase && (!region || c.region === region))
        .reduce((a, c) => a + c.n, 0);
    const phases = PHASES.filter((p) => count(p) > 0);
    const tiles = h(
      'div',
      { class: 'tiles' },
      tile('Shipments today', t.total, 'total'),
      tile('On-time rate', pct(k && k.onTime.rate), 'kpi-on-time'),
      tile(
        'ETA error p50 / p90',
        k ? `${min(k.etaErrorMinutes.p50)} / ${min(k.etaErrorMinutes.p90)}` : '–',
        'kpi-eta',
      ),
      tile('First-attempt rate', pct(k && k.firstAttempt.rate), 'kpi-first-attempt'),
      tile('Route acceptance p50', min(k && k.routeAcceptanceMinutes.p50), 'kpi-acceptance'),
      tile('Invoice cycle p50', min(k && k.invoiceCycleMinutes.p50), 'kpi-invoice-cycle'),
      tile('Open exceptions', `${t.openExceptions} (${t.breached} past SLA)`, 'open-exceptions'),
      tile('Inbox backlog', t.backlog, 'backlog'),
    );
    const table = h(
      'table',
      { 'data-testid': 'phase-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'phase'),
          ...regions.map((r) => h('th', { class: 'num' }, r)),
          h('th', { class: 'num' }, 'all'),
        ),
      ),
      h(
        'tbody',
        {},
        phases.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, p),
            ...regions.map((r) => h('td', { class: 'num' }, count(p, r))),
            h('td', { class: 'num', 'data-testid': `count-${p}` }, count(p)),
          ),
        ),
      ),
    );
    const regionKpis = h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'region',
            'shipments',
            'on-time',
            'ETA p50',
            'ETA p90',
            'first attempt',
            'invoice cycle p50',
          ].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        (t.kpis ? t.kpis.regions : []).map((r) =>
          h(
            'tr',
            {},
            h('td', {}, r.region),
            h('td', {}, r.shipments),
            h('td', {}, pct(r.onTime.rate)),
            h('td', {}, min(r.etaErrorMinutes.p50)),
            h('td', {}, min(r.etaErrorMinutes.p90)),
            h('td', {}, pct(r.firstAttempt.rate)),
            h('td', {}, min(r.invoiceCycleMinutes.p50)),
          ),
        ),
      ),
    );
    const today = document.getElementById('today-view');
    if (first || !today) {
      const onTimeCanvas = h('canvas', { id: 'chart-on-time' });
      const etaCanvas = h('canvas', { id: 'chart-eta' });
      const excCanvas = h('canvas', { id: 'chart-exceptions' });
      setView(
        h(
          'div',
          { id: 'today-view' },
          h('h2', { id: 'today-title' }),
          h('div', { id: 'today-tiles' }),
          h(
            'div',
            { class: 'grid2' },
            h(
              'div',
              { class: 'card' },
              h('h3', {}, 'Shipments by phase and region'),
              h('div', { id: 'today-phases' }),
            ),
            h('div', { class: 'card' }, h('h3', {}, 'KPIs by region'), h('div', { id: 'today-regions' })),
          ),
          h(
            'div',
            { class: 'grid2' },
            h(
              'div',
              { class: 'card' },
              h('h3', {}, 'On-time rate'),
              h('div', { class: 'chart' }, onTimeCanvas),
            ),
            h(
              'div',
              { class: 'card' },
              h('h3', {}, 'ETA error (minutes)'),
              h('div', { class: 'chart' }, etaCanvas),
            ),
          ),
          h(
            'div',
            { class: 'card' },
            h('h3', {}, 'Exceptions opened'),
            h('div', { class: 'chart' }, excCanvas),
          ),
        ),
      );
    }
    // Only what changes is replaced: the charts stay and get new data when the trend moved.
    document
      .getElementById('today-title')
      .replaceChildren(`Today ${t.day} `, h('span', { class: 'muted' }, `(simulated now ${time(t.now)})`));
    document.getElementById('today-tiles').replaceChildren(tiles);
    document.getElementById('today-phases').replaceChildren(table);
    document.getElementById('today-regions').replaceChildren(regionKpis);
    const trend = JSON.stringify(t.trend);
    if (trend === drawnTrend) return;
    drawnTrend = trend;
    const gen = generation;
    // The figures are on the page; the charts follow once chart.js is there (loaded once per tab).
    loadChartLib()
      .then((Chart) => {
        if (gen === generation && drawnTrend === trend) drawTrend(Chart, t.trend);
      })
      .catch(() => undefined);
  }

  function drawTrend(Chart, trend) {
    const canvases = ['chart-on-time', 'chart-eta', 'chart-exceptions'].map((id) =>
      document.getElementById(id),
    );
    if (canvases.some((c) => !c)) return;
    const labels = trend.map((d) => d.day.slice(5));
    const series = [
      [trend.map((d) => (d.onTime === null ? null : d.onTime * 100))],
      [trend.map((d) => d.etaP50), trend.map((d) => d.etaP90)],
      [trend.map((d) => d.exceptionsOpened)],
    ];
    if (charts.length === 3 && charts.every((c, i) => c.canvas === canvases[i])) {
      charts.forEach((c, i) => {
        c.data.labels = labels;
        c.data.datasets.forEach((ds, j) => (ds.data = series[i][j]));
        c.update('none');
      });
      return;
    }
    for (const c of charts) c.destroy();
    const opts = { responsive: true, maintainAspectRatio: false, animation: false };
    charts = [
      new Chart(canvases[0], {
        type: 'line',
        data: { labels, datasets: [{ label: 'on-time %', data: series[0][0], borderColor: '#15803d' }] },
        options: { ...opts, scales: { y: { min: 0, max: 100 } } },
      }),
      new Chart(canvases[1], {
        type: 'line',
        data: {
          labels,
          datasets: [
            { label: 'p50', data: series[1][0], borderColor: '#2563eb' },
            { label: 'p90', data: series[1][1], borderColor: '#b45309' },
          ],
        },
        options: opts,
      }),
      new Chart(canvases[2], {
        type: 'bar',
        data: { labels, datasets: [{ label: 'opened', data: series[2][0], backgroundColor: '#b91c1c' }] },
        options: opts,
      }),
    ];
  }

  /** A "show more" button that loads the next page and appends its rows; gone on the last page. */
  function moreButton(next, load, testid) {
    if (!next) return null;
    return h(
      'button',
      {
        class: 'secondary',
        'data-testid': testid,
        onclick: async (e) => {
          const button = e.target;
          button.disabled = true;
          try {
            const more = await load(next);
            // The view holds more than its first page now: polling leaves it as the user extended it.
            main().dataset.paged = 'true';
            button.replaceWith(...[moreButton(more, load, testid)].filter(Boolean));
          } catch (err) {
            button.disabled = false;
            button.textContent = String(err.message || err);
          }
        },
      },
      `Show the next ${PAGE_SIZE}`,
    );
  }

  function exceptionRow(c) {
    return h(
      'tr',
      {},
      h('td', {}, time(c.openedAt)),
      h('td', {}, min(c.ageMinutes)),
      h('td', { class: `sla-${c.sla}` }, c.sla.replace('_', ' ')),
      h('td', {}, c.kind),
      h('td', {}, c.region),
      h('td', {}, shipmentLink(c.shipmentId)),
      h('td', {}, c.phase || '–'),
      h('td', {}, c.caseId || '–'),
    );
  }

  async function renderExceptions(first) {
    // Polling refreshes the first page only while the user has not loaded older ones.
    if (!first && main().dataset.paged) return;
    const r = await api('GET', `/v1/ops/exceptions?limit=${PAGE_SIZE}`);
    const body = h('tbody', {}, r.cases.map(exceptionRow));
    const load = async (after) => {
      const p = await api('GET', `/v1/ops/exceptions?limit=${PAGE_SIZE}&after=${encodeURIComponent(after)}`);
      body.append(...p.cases.map(exceptionRow));
      return p.next;
    };
    setView(
      h(
        'h2',
        {},
        'Open exceptions ',
        h('span', { class: 'muted' }, `(${r.total}, ${r.breached} past SLA, oldest first)`),
      ),
      h(
        'div',
        { class: 'tiles' },
        Object.entries(r.byKind).map(([k, n]) => tile(k, n, `kind-${k}`)),
      ),
      h(
        'div',
        { class: 'card' },
        h(
          'table',
          { 'data-testid': 'exceptions-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['opened', 'age', 'SLA', 'kind', 'region', 'shipment', 'phase', 'case'].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          body,
        ),
        moreButton(r.next, load, 'exceptions-more'),
      ),
    );
  }

  async function renderShipment(id) {
    const d = await api('GET', `/v1/ops/shipments/${encodeURIComponent(id)}`);
    const s = d.shipment;
    const field = (label, value) =>
      h('tr', {}, h('th', {}, label), h('td', {}, value === null || value === undefined ? '–' : value));
    setView(
      h('h2', {}, `Shipment ${s.shipmentId} `, h('span', { class: 'pill', 'data-testid': 'phase' }, s.phase)),
      h(
        'p',
        {},
        h(
          'a',
          { href: d.temporalUrl, target: '_blank', rel: 'noopener', 'data-testid': 'temporal-link' },
          'Open the run in the Temporal Web UI',
        ),
      ),
      h(
        'div',
        { class: 'grid2' },
        h(
          'div',
          { class: 'card' },
          h('h3', {}, 'Summary'),
          h(
            'table',
            {},
            h(
              'tbody',
              {},
              field('region', s.region),
              field('window', `${time(s.windowStart)} – ${time(s.windowEnd)}`),
              field('committed ETA', time(s.eta)),
              field('driver / route', `${s.driverId || '–'} / ${s.routeId || '–'}`),
              field('attempts', s.attempts),
              field('outcome', s.outcome),
              field('billing document', s.billingDocumentId),
              field('workflow', s.workflowStatus),
            ),
          ),
        ),
        h(
          'div',
          { class: 'card' },
          h('h3', {}, 'Charges'),
          h(
            'table',
            {},
            h(
              'tbody',
              {},
              s.charges.map((c) =>
                h('tr', {}, h('td', {}, c.code), h('td', { class: 'num' }, c.amount.toFixed(2))),
              ),
              h('tr', {}, h('th', {}, 'total'), h('th', { class: 'num' }, s.chargesTotal.toFixed(2))),
            ),
          ),
          h(
            'p',
            {},
            s.awaitingApproval ? `Awaiting approval (${s.approvals.length}/${s.approvalsRequired || 1})` : '',
          ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Stops'),
        h(
          'table',
          { 'data-testid': 'stops' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[
                'attempt',
                'task',
                'window',
                'first ETA',
                'planned ETA',
                'arrived',
                'completed',
                'failed',
                'inside window',
              ].map((c) => h('th', {}, c)),
            ),
          ),
          h(
            'tbody',
            {},
            d.stops.map((st) => {
              const inside =
                st.arrivedAt && st.windowStart && st.windowEnd
                  ? st.arrivedAt >= st.windowStart && st.arrivedAt <= st.windowEnd
                  : null;
              return h(
                'tr',
                {},
                h('td', {}, st.attempt),
                h('td', {}, st.taskId || '–'),
                h('td', {}, `${time(st.windowStart)} – ${time(st.windowEnd)}`),
                h('td', {}, time(st.firstEta)),
                h('td', {}, time(st.plannedEta)),
                h('td', {}, time(st.arrivedAt)),
                h('td', {}, time(st.completedAt)),
                h('td', {}, st.failedAt ? `${time(st.failedAt)} ${st.failureReason || ''}` : '–'),
                h('td', {}, inside === null ? '–' : inside ? 'yes' : 'no'),
              );
            }),
          ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Cases'),
        h(
          'table',
          {},
          h(
            'tbody',
            {},
            d.cases.map((c) =>
              h(
                'tr',
                {},
                h('td', {}, c.kind),
                h('td', {}, c.caseId || '–'),
                h('td', {}, `opened ${time(c.openedAt)}`),
                h('td', {}, c.resolvedAt ? `resolved ${time(c.resolvedAt)}` : 'open'),
              ),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Timeline'),
        h(
          'table',
          { class: 'timeline', 'data-testid': 'timeline' },
          h(
            'tbody',
            {},
            d.events.map((e) =>
              h(
                'tr',
                {},
                h('td', {}, time(e.at)),
                h('td', {}, e.type),
                h('td', {}, JSON.stringify(e.detail)),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function approve(id, decision, button) {
    button.disabled = true;
    const out = document.getElementById(`approval-${id}`);
    try {
      const r = await api(
        'POST',
        `/v1/shipments/${encodeURIComponent(id)}/charges/approval`,
        { approve: decision },
        { 'idempotency-key': idemKey() },
      );
      out.textContent = `${r.status || 'approved'} by ${me.principal}`;
    } catch (err) {
      out.textContent = String(err.message || err);
      button.disabled = false;
    }
  }

  function invoiceRow(s, finance) {
    const reason = s.awaitingApproval
      ? `accessorials over the approval threshold; ${s.approvals.length} of ${s.approvalsRequired || 1} approvals`
      : 'waiting for the billing post';
    return h(
      'tr',
      { 'data-row': s.shipmentId },
      h('td', {}, shipmentLink(s.shipmentId)),
      h('td', {}, s.region),
      h('td', {}, time(s.deliveredAt)),
      h('td', { class: 'num' }, s.chargesTotal.toFixed(2)),
      h('td', {}, s.charges.map((c) => c.code).join(', ')),
      h('td', {}, reason),
      h('td', {}, s.approvals.map((a) => `${a.principal}: ${a.decision}`).join('; ') || '–'),
      h(
        'td',
        {},
        finance && s.awaitingApproval
          ? [
              h(
                'button',
                {
                  'data-approve': s.shipmentId,
                  onclick: (e) => approve(s.shipmentId, true, e.target),
                },
                'Approve',
              ),
              ' ',
              h(
                'button',
                {
                  class: 'danger',
                  'data-reject': s.shipmentId,
                  onclick: (e) => approve(s.shipmentId, false, e.target),
                },
                'Reject',
              ),
            ]
          : null,
        h('span', { id: `approval-${s.shipmentId}`, 'data-approval-result': s.shipmentId }),
      ),
    );
  }

  async function renderInvoices(first) {
    // Polling must not wipe a result the finance user has just produced, nor the pages the user loaded.
    if (!first && (main().dataset.paged || document.querySelector('[data-approval-result]:not(:empty)')))
      return;
    const r = await api('GET', `/v1/ops/invoice-ready?limit=${PAGE_SIZE}`);
    const finance = hasRole('finance');
    const body = h(
      'tbody',
      {},
      r.shipments.map((s) => invoiceRow(s, finance)),
    );
    const load = async (after) => {
      const p = await api(
        'GET',
        `/v1/ops/invoice-ready?limit=${PAGE_SIZE}&after=${encodeURIComponent(after)}`,
      );
      body.append(...p.shipments.map((s) => invoiceRow(s, finance)));
      return p.next;
    };
    setView(
      h(
        'h2',
        {},
        'Invoice-ready ',
        h(
          'span',
          { class: 'muted' },
          `(${r.total} delivered, not yet billed; ${r.awaitingApproval} awaiting approval; oldest first)`,
        ),
      ),
      finance ? null : h('p', { class: 'muted' }, 'Approving charges is for finance.'),
      h(
        'div',
        { class: 'card' },
        h(
          'table',
          { 'data-testid': 'invoice-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['shipment', 'region', 'delivered', 'total', 'charges', 'state', 'approvals', ''].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          body,
        ),
        moreButton(r.next, load, 'invoices-more'),
      ),
    );
  }

  async function renderDeadLetters() {
    const r = await api('GET', '/v1/dead-letters?status=open&limit=200');
    const detail = h('div', { class: 'card', id: 'letter-detail', hidden: true });
    const act = async (id, action) => {
      const out = document.getElementById(`letter-${id}`);
      try {
        const res = await api('POST', `/v1/dead-letters/${id}/${action}`, undefined, {
          'idempotency-key': idemKey(),
        });
        out.textContent = action === 'replay' ? `replayed: ${res.outcome}` : 'discarded';
      } catch (err) {
        out.textContent = String(err.message || err);
      }
    };
    const show = async (id) => {
      const l = await api('GET', `/v1/dead-letters/${id}`);
      detail.hidden = false;
      detail.replaceChildren(
        h('h3', {}, `Dead letter ${l.id}: ${l.code}`),
        h('p', {}, l.reason),
        h('pre', { 'data-testid': 'letter-payload' }, l.payload),
      );
    };
    setView(
      h('h2', {}, 'Dead letters ', h('span', { class: 'muted' }, `(${r.deadLetters.length} open)`)),
      h(
        'div',
        { class: 'card' },
        h(
          'table',
          { 'data-testid': 'dead-letters' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['id', 'created', 'source', 'stage', 'code', 'reason', 'shipment', ''].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            r.deadLetters.map((l) =>
              h(
                'tr',
                { 'data-letter': l.id },
                h('td', {}, l.id),
                h('td', {}, time(l.createdAt)),
                h('td', {}, l.source),
                h('td', {}, l.stage),
                h('td', {}, l.code),
                h('td', {}, (l.reason || '').slice(0, 80)),
                h('td', {}, l.shipmentId ? shipmentLink(l.shipmentId) : '–'),
                h(
                  'td',
                  {},
                  h('button', { class: 'secondary', 'data-show': l.id, onclick: () => show(l.id) }, 'Show'),
                  ' ',
                  h('button', { 'data-replay': l.id, onclick: () => act(l.id, 'replay') }, 'Replay'),
                  ' ',
                  h(
                    'button',
                    { class: 'danger', 'data-discard': l.id, onclick: () => act(l.id, 'discard') },
                    'Discard',
                  ),
                  ' ',
                  h('span', { id: `letter-${l.id}`, 'data-letter-result': l.id }),
                ),
              ),
            ),
          ),
        ),
      ),
      detail,
    );
  }

  async function renderHealth() {
    const r = await api('GET', '/v1/ops/health');
    setView(
      h('h2', {}, 'Vendor health and backlog'),
      h(
        'div',
        { class: 'tiles' },
        tile('Inbox backlog', r.backlog, 'health-backlog'),
        tile('Shipments in the ODS', r.ods.shipments, 'ods-shipments'),
        tile('Projections (failed)', `${r.ods.projected} (${r.ods.failed})`, 'ods-projections'),
      ),
      h(
        'div',
        { class: 'card' },
        h(
          'table',
          { 'data-testid': 'vendors' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[
                'system',
                'last webhook',
                'pending',
                'delivered',
                'dead',
                'open dead letters',
                'webhooks since start',
              ].map((c) => h('th', {}, c)),
            ),
          ),
          h(
            'tbody',
            {},
            r.vendors.map((v) =>
              h(
                'tr',
                {},
                h('td', {}, v.source),
                h('td', {}, time(v.lastReceivedAt)),
                h('td', { class: 'num' }, v.pending),
                h('td', { class: 'num' }, v.delivered),
                h('td', { class: 'num' }, v.dead),
                h('td', { class: 'num' }, v.deadLettersOpen),
                h(
                  'td',
                  {},
                  Object.entries(v.webhooksSinceStart)
                    .map(([k, n]) => `${k} ${n}`)
                    .join(', ') || '–',
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function start() {
    const form = document.getElementById('signin');
    const msg = sessionStorage.getItem('shipsync.signin-message');
    if (msg) {
      document.getElementById('signin-error').textContent = msg;
      sessionStorage.removeItem('shipsync.signin-message');
    }
    // A sign-in link (`/ops/#token=...`) fills the token once and removes it from the address bar.
    const m = /[#&]token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      sessionStorage.removeItem(ME_KEY);
      history.replaceState(null, '', '/ops/#/today');
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await signIn(document.getElementById('token').value.trim());
        renderChrome();
        location.hash = '#/today';
        route();
      } catch (err) {
        document.getElementById('signin-error').textContent = String(err.message || err);
      }
    });
    const known = token() ? remembered() : null;
    if (known) {
      // A tab that signed in before shows its view at once; who the token belongs to is asked again
      // alongside (the server checks the token and role of every request in any case).
      me = known;
      renderChrome();
      route();
      fetchMe()
        .then((fresh) => {
          if (!fresh) return;
          const changed = fresh.principal !== me.principal || fresh.roles.join() !== me.roles.join();
          remember(fresh);
          if (changed) {
            renderChrome();
            route();
          }
        })
        .catch(() => undefined);
    } else if (token()) {
      try {
        remember(await api('GET', '/v1/ops/me'));
        renderChrome();
        route();
      } catch {
        /* the sign-in form stays */
      }
    }
    window.addEventListener('hashchange', () => me && route());
  }

  document.addEventListener('DOMContentLoaded', start);
})();
