// The dashboard: everything it shows comes from the API with the token the user gives (kept in
// this browser's localStorage, or passed once as #token=… in the address). Live events (GET
// /events) refresh the panels they concern; polling is the safety net.
const state = { token: '', chart: null, candles: null, volume: null, live: null };
/** What the browser test reads: bars drawn, rows listed, live events received, the last error. */
window.tradedbDashboard = { bars: 0, orders: 0, flowRuns: 0, backups: 0, qualityIssues: 0, pools: 0, live: false, liveEvents: 0, error: null };
/** Panels are refreshed this often with live events on (flow runs starting send none), and without. */
const REFRESH_LIVE_MS = 10_000;
const REFRESH_POLLING_MS = 2_000;
/** A dropped event stream is opened again after this long. */
const RECONNECT_MS = 3_000;

const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
  if (isError) window.tradedbDashboard.error = text;
}

const report = (error) => setStatus(error.message, true);

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json', ...(options.headers ?? {}) } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? `${body.error.message}` : `HTTP ${response.status}`);
  return body;
}

/** Replaces a table's rows: one row per item, its cells from `cells(item)`. */
function fillTable(id, items, cells) {
  $(id).tBodies[0].replaceChildren(
    ...items.map((item) => {
      const row = document.createElement('tr');
      for (const value of cells(item)) {
        const td = document.createElement('td');
        if (value && typeof value === 'object') {
          td.textContent = value.text;
          td.className = value.className;
          td.title = value.text;
        } else td.textContent = String(value ?? '');
        row.append(td);
      }
      return row;
    }),
  );
  return items.length;
}

const when = (time) => (time ? new Date(time).toLocaleString() : '');
function bytes(count) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
function age(time) {
  const hours = (Date.now() - Date.parse(time)) / 3_600_000;
  return hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} d`;
}

async function loadSymbols() {
  const { symbols } = await api('/symbols?status=active');
  $('symbol').replaceChildren(...symbols.map(({ symbol }) => Object.assign(document.createElement('option'), { value: symbol, textContent: symbol })));
}

async function loadChart() {
  const symbol = $('symbol').value;
  if (!symbol) return;
  const { bars } = await api(`/bars/${encodeURIComponent(symbol)}?interval=${$('interval').value}`);
  const time = (bar) => Math.floor(Date.parse(bar.ts) / 1000);
  state.candles.setData(bars.map((bar) => ({ time: time(bar), open: Number(bar.open), high: Number(bar.high), low: Number(bar.low), close: Number(bar.close) })));
  state.volume.setData(bars.map((bar) => ({ time: time(bar), value: Number(bar.volume), color: Number(bar.close) >= Number(bar.open) ? '#9fd8b5' : '#f2b8b5' })));
  state.chart.timeScale().fitContent();
  window.tradedbDashboard.bars = bars.length;
  setStatus(`${symbol}: ${bars.length} bars`);
}

async function loadOrders() {
  const account = encodeURIComponent($('account').value.trim());
  if (!account) return;
  const [{ orders }, { positions }, { summaries }] = await Promise.all([api(`/orders?account=${account}`), api(`/positions?account=${account}`), api(`/portfolio?account=${account}&limit=1`)]);
  window.tradedbDashboard.orders = fillTable('orders', orders, (order) => [order.id, when(order.createdAt), order.symbol, order.side, order.quantity, order.orderType, order.limitPrice, order.status, order.filledQuantity]);
  fillTable('positions', positions, (position) => [position.symbol, position.quantity, position.averageCost, position.realizedPnl]);
  const summary = summaries[0];
  const figures = summary
    ? [['equity', summary.equity], ['cash', summary.cash], ['market value', summary.marketValue], ['realized P&L', summary.realizedPnl], ['unrealized P&L', summary.unrealizedPnl], ['as of', when(summary.asOf)]]
    : [['portfolio', 'no summary yet (live analytics or the end-of-day flow writes them)']];
  $('portfolio').replaceChildren(...figures.flatMap(([label, value]) => [Object.assign(document.createElement('dt'), { textContent: label }), Object.assign(document.createElement('dd'), { textContent: value })]));
}

async function loadFlowRuns() {
  const { runs } = await api('/flows/runs?limit=20');
  window.tradedbDashboard.flowRuns = fillTable('flow-runs', runs, (run) => [
    run.id,
    run.flowName,
    run.trigger,
    run.state,
    `${run.attempts}/${run.maxAttempts}`,
    when(run.startedAt),
    run.durationMs === null ? '' : `${(run.durationMs / 1000).toFixed(1)} s`,
    run.error,
  ]);
}

async function loadBackups() {
  const { backups } = await api('/backups?limit=10');
  window.tradedbDashboard.backups = fillTable('backups', backups, (backup) => [backup.file, age(backup.startedAt), bytes(backup.sizeBytes), backup.totalRows, backup.verification === null ? 'not verified' : backup.verification]);
}

async function loadQuality() {
  const { issues } = await api('/quality?limit=20');
  window.tradedbDashboard.qualityIssues = fillTable('quality', issues, (issue) => [issue.ingestionRunId, issue.lineNumber, issue.symbol, issue.rule, issue.detail]);
}

async function loadDatabase() {
  const health = await api('/database?top=5');
  window.tradedbDashboard.pools = fillTable('pools', health.pools, (pool) => [pool.pool, pool.total, pool.idle, pool.waiting, pool.max]);
  $('slow-unavailable').textContent = health.slowestQueries.unavailable ?? '';
  fillTable('slow-queries', health.slowestQueries.queries ?? [], (query) => [query.meanMs.toFixed(2), query.calls, query.role, { text: query.query, className: 'statement' }]);
  fillTable('tables', health.tables.slice(0, 10), (table) => [table.table, bytes(table.bytes)]);
  const byParent = new Map();
  for (const partition of health.partitions) {
    const entry = byParent.get(partition.parent) ?? { count: 0, bytes: 0, newest: '' };
    entry.count += 1;
    entry.bytes += partition.bytes;
    if (partition.bounds !== 'DEFAULT') entry.newest = partition.partition;
    byParent.set(partition.parent, entry);
  }
  fillTable('partitions', [...byParent], ([parent, entry]) => [parent, entry.count, entry.newest, bytes(entry.bytes)]);
}

/** Which panels an event's topic changes. */
const PANELS_BY_TOPIC = {
  orders: [loadOrders],
  trades: [loadOrders],
  positions: [loadOrders],
  risk: [loadOrders],
  flows: [loadFlowRuns],
  backups: [loadBackups],
  ingestion: [loadChart, loadQuality],
};

/** Panels due for a refresh: a burst of events (a batch of fills) costs one refresh each. */
const due = new Set();
const EVENT_BURST_MS = 100;
function refreshSoon(panels) {
  const idle = due.size === 0;
  for (const panel of panels) due.add(panel);
  if (idle) {
    setTimeout(() => {
      const panelsNow = [...due];
      due.clear();
      void Promise.all(panelsNow.map((panel) => panel())).catch(report);
    }, EVENT_BURST_MS);
  }
}

function setLive(on) {
  window.tradedbDashboard.live = on;
  $('live').textContent = on ? 'live' : 'polling';
  $('live').className = on ? 'on' : '';
}

/**
 * Reads GET /events (server-sent events) with fetch, because EventSource cannot send the token;
 * reloads every panel once connected (events were missed while it was not) and reconnects after a
 * drop. A refused token stops it (the status says why). Each event refreshes the panels of its topic.
 */
async function followEvents() {
  const token = state.token;
  const controller = new AbortController();
  state.live?.abort();
  state.live = controller;
  let refused = false;
  try {
    const response = await fetch('/events', { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (response.status === 401 || response.status === 403) {
      refused = true;
      report(new Error(`live updates: ${(await response.json()).error?.message ?? `HTTP ${response.status}`}`));
      return;
    }
    if (!response.ok) throw new Error(`live events: HTTP ${response.status}`);
    setLive(true);
    refreshSoon([loadChart, ...ALL_PANELS]);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (!data) continue;
        const event = JSON.parse(data.slice(6));
        window.tradedbDashboard.liveEvents += 1;
        refreshSoon(PANELS_BY_TOPIC[event.topic] ?? []);
      }
    }
  } catch {
    // A drop, or this stream replaced by a newer one (aborted): handled below.
  } finally {
    // Never leave the response open behind us: browsers allow few connections per server.
    if (!controller.signal.aborted) controller.abort();
  }
  if (state.live !== controller) return;
  setLive(false);
  if (!refused && state.token === token) setTimeout(() => void followEvents(), RECONNECT_MS);
}

const ALL_PANELS = [loadOrders, loadFlowRuns, loadBackups, loadQuality, loadDatabase];

async function placeOrder(event) {
  event.preventDefault();
  const type = $('type').value;
  const order = { account: $('account').value.trim(), symbol: $('symbol').value, side: $('side').value, type, quantity: $('quantity').value.trim() };
  if (type === 'limit') order.limitPrice = $('limit-price').value.trim();
  try {
    const { order: placed } = await api('/orders', { method: 'POST', body: JSON.stringify(order), headers: { 'idempotency-key': crypto.randomUUID() } });
    setStatus(`order ${placed.id} ${placed.status}`);
    await loadOrders();
  } catch (error) {
    report(error);
  }
}

async function start() {
  const fromAddress = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromAddress) {
    localStorage.setItem('tradedb.token', fromAddress);
    history.replaceState(null, '', location.pathname);
  }
  state.token = localStorage.getItem('tradedb.token') ?? '';
  $('token').value = state.token;
  if (!state.token) return setStatus('Give an API token to see the data.');
  void followEvents();
  try {
    await loadSymbols();
    await Promise.all([loadChart(), ...ALL_PANELS.map((panel) => panel())]);
  } catch (error) {
    report(error);
  }
}

/** The safety net: every panel again, often while live events are off. */
function schedulePolling() {
  setTimeout(() => {
    if (state.token) void Promise.all(ALL_PANELS.map((panel) => panel())).catch(report);
    schedulePolling();
  }, window.tradedbDashboard.live ? REFRESH_LIVE_MS : REFRESH_POLLING_MS);
}

const { createChart, CandlestickSeries, HistogramSeries } = window.LightweightCharts;
state.chart = createChart($('chart'), { autoSize: true, layout: { background: { color: '#ffffff' }, textColor: '#1d2330' } });
state.candles = state.chart.addSeries(CandlestickSeries, {});
state.volume = state.chart.addSeries(HistogramSeries, { priceScaleId: '', priceFormat: { type: 'volume' } });
state.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  localStorage.setItem('tradedb.token', $('token').value.trim());
  void start();
});
$('symbol').addEventListener('change', () => void loadChart().catch(report));
$('interval').addEventListener('change', () => void loadChart().catch(report));
$('account').addEventListener('change', () => void loadOrders().catch(report));
$('order-form').addEventListener('submit', (event) => void placeOrder(event));
setLive(false);
schedulePolling();
void start();
