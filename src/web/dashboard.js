// The dashboard: everything it shows comes from the API with the token the user gives (kept in
// this browser's localStorage, or passed once as #token=… in the address).
const state = { token: '', chart: null, candles: null, volume: null };
/** What the browser test reads: bars drawn, orders and flow runs listed, the last error. */
window.tradedbDashboard = { bars: 0, orders: 0, flowRuns: 0, error: null };
/** Until live updates arrive by server-sent events, the tables are refreshed this often. */
const REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
  if (isError) window.tradedbDashboard.error = text;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json', ...(options.headers ?? {}) } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? `${body.error.message}` : `HTTP ${response.status}`);
  return body;
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  row.append(td);
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
  const account = $('account').value.trim();
  if (!account) return;
  const [{ orders }, { positions }] = await Promise.all([api(`/orders?account=${encodeURIComponent(account)}`), api(`/positions?account=${encodeURIComponent(account)}`)]);
  $('orders').tBodies[0].replaceChildren(
    ...orders.map((order) => {
      const row = document.createElement('tr');
      for (const value of [order.id, new Date(order.createdAt).toLocaleString(), order.symbol, order.side, order.quantity, order.orderType, order.limitPrice, order.status, order.filledQuantity]) cell(row, String(value ?? ''));
      return row;
    }),
  );
  $('positions').tBodies[0].replaceChildren(
    ...positions.map((position) => {
      const row = document.createElement('tr');
      for (const value of [position.symbol, position.quantity, position.averageCost, position.realizedPnl]) cell(row, String(value ?? ''));
      return row;
    }),
  );
  window.tradedbDashboard.orders = orders.length;
}

async function loadFlowRuns() {
  const { runs } = await api('/flows/runs?limit=20');
  $('flow-runs').tBodies[0].replaceChildren(
    ...runs.map((run) => {
      const row = document.createElement('tr');
      const duration = run.durationMs === null ? '' : `${(run.durationMs / 1000).toFixed(1)} s`;
      for (const value of [run.id, run.flowName, run.trigger, run.state, `${run.attempts}/${run.maxAttempts}`, run.startedAt ? new Date(run.startedAt).toLocaleString() : '', duration, run.error]) cell(row, String(value ?? ''));
      return row;
    }),
  );
  window.tradedbDashboard.flowRuns = runs.length;
}

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
    setStatus(error.message, true);
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
  try {
    await loadSymbols();
    await Promise.all([loadChart(), loadOrders(), loadFlowRuns()]);
  } catch (error) {
    setStatus(error.message, true);
  }
}

setInterval(() => {
  if (state.token) void Promise.all([loadOrders(), loadFlowRuns()]).catch((error) => setStatus(error.message, true));
}, REFRESH_MS);

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
$('symbol').addEventListener('change', () => void loadChart().catch((error) => setStatus(error.message, true)));
$('interval').addEventListener('change', () => void loadChart().catch((error) => setStatus(error.message, true)));
$('account').addEventListener('change', () => void loadOrders().catch((error) => setStatus(error.message, true)));
$('order-form').addEventListener('submit', (event) => void placeOrder(event));
void start();
