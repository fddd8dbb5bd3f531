// AccountView front end: everything is drawn from the synced state; the only message sent back is a
// cancel request for one order id.
const money = (v) => (v == null ? "" : Number(v).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const num = (v, d = 4) => (v == null ? "" : Number(v).toLocaleString(undefined, { maximumFractionDigits: d }));
const signed = (v, suffix = "") => (v == null ? "" : `${v >= 0 ? "+" : ""}${money(v)}${suffix}`);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function card(a) {
  if (!a || !a.mode) return el("div", { class: "anb-card" }, "loading…");
  const cell = (label, value, cls = "") => el("div", { class: "anb-cell" }, el("div", { class: "anb-label" }, label), el("div", { class: `anb-value ${cls}` }, value));
  const flags = [["PDT", a.pattern_day_trader], ["TRADING BLOCKED", a.trading_blocked], ["ACCOUNT BLOCKED", a.account_blocked]]
    .filter(([, on]) => on).map(([name]) => el("span", { class: "anb-flag" }, name));
  return el("div", { class: "anb-card" },
    el("div", { class: "anb-card-head" }, el("span", { class: "anb-mode", dataset: { mode: a.mode } }, a.mode.toUpperCase()),
      el("span", { class: "anb-acct" }, `${a.account_number} · ${a.status}`), ...flags),
    el("div", { class: "anb-cells" },
      cell("Equity", `$${money(a.equity)}`),
      cell("Day P&L", `${signed(a.day_pl)} (${signed(a.day_pl_pct, "%")})`, a.day_pl >= 0 ? "anb-up" : "anb-down"),
      cell("Cash", `$${money(a.cash)}`), cell("Buying power", `$${money(a.buying_power)}`),
      cell("Long", `$${money(a.long_market_value)}`), cell("Short", `$${money(a.short_market_value)}`)));
}

function table(headers, rows) {
  return el("table", { class: "anb-table" }, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
}

function positionsTable(positions) {
  if (!positions.length) return el("div", { class: "anb-empty" }, "No positions.");
  // Option positions bring their greeks (position totals): then the table shows Δ Γ Θ V, and a net line.
  const greeks = positions.some((p) => p.delta != null);
  const g = (x) => (x == null ? "" : x.toFixed(2));
  const heads = ["Symbol", "Qty", "Avg entry", "Last", "Market value", "Unrealized P&L", "%", ...(greeks ? ["Δ", "Γ", "Θ", "V"] : [])];
  const rows = positions.map((p) => {
    const cls = p.unrealized_pl >= 0 ? "anb-up" : "anb-down";
    return el("tr", { class: "anb-position", dataset: { symbol: p.symbol } }, el("td", {}, p.symbol), el("td", {}, num(p.qty)),
      el("td", {}, money(p.avg_entry_price)), el("td", {}, money(p.current_price)), el("td", {}, money(p.market_value)),
      el("td", { class: cls }, signed(p.unrealized_pl)), el("td", { class: cls }, signed(p.unrealized_plpc, "%")),
      ...(greeks ? [g(p.delta), g(p.gamma), g(p.theta), g(p.vega)].map((x) => el("td", { class: "anb-greek" }, x)) : []));
  });
  if (greeks) {
    const sum = (k) => positions.reduce((a, p) => a + (p[k] || 0), 0);
    rows.push(el("tr", { class: "anb-net-greeks" }, el("td", { colspan: "7" }, "options, net"),
      ...["delta", "gamma", "theta", "vega"].map((k) => el("td", { class: "anb-greek" }, g(sum(k))))));
  }
  return table(heads, rows);
}

function ordersTable(orders, model) {
  if (!orders.length) return el("div", { class: "anb-empty" }, "No open orders.");
  return table(["Symbol", "Side", "Type", "Qty", "Filled", "Limit", "Stop", "Status", ""], orders.map((o) => {
    const button = el("button", { class: "anb-cancel", dataset: { id: o.id } }, "Cancel");
    button.addEventListener("click", () => { button.disabled = true; model.send({ type: "cancel", id: o.id }); });
    return el("tr", { class: "anb-order", dataset: { id: o.id } }, el("td", {}, o.symbol), el("td", {}, o.side), el("td", {}, o.type),
      el("td", {}, num(o.qty)), el("td", {}, num(o.filled_qty)), el("td", {}, money(o.limit_price)), el("td", {}, money(o.stop_price)),
      el("td", {}, o.status), el("td", {}, button));
  }));
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// The equity curve (a line) over its drawdown (an area hanging from the top), with the last value.
function equityCurve(points, period) {
  const box = el("div", { class: "anb-curve" });
  if (!points || points.length < 2) {
    box.append(el("div", { class: "anb-empty" }, points && points.length ? `equity ${money(points[0][1])}` : "no equity history yet"));
    return box;
  }
  const W = 420, H = 110, P = 4;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]), dd = points.map((p) => p[2]);
  const x0 = xs[0], x1 = xs[xs.length - 1] || x0 + 1;
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
  const worst = Math.min(...dd, 0);
  const X = (t) => P + ((t - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const Y = (v) => P + (1 - (v - lo) / span) * (H * 0.7 - 2 * P);
  const D = (d) => H * 0.72 + (worst ? (d / worst) : 0) * (H * 0.26);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "anb-curve-svg", role: "img",
    "aria-label": `equity curve, ${period}` });
  const area = [`${X(xs[0])},${H * 0.72}`, ...points.map((p) => `${X(p[0])},${D(p[2])}`), `${X(x1)},${H * 0.72}`].join(" ");
  chart.append(svg("polygon", { points: area, class: "anb-drawdown" }),
    svg("polyline", { points: points.map((p) => `${X(p[0])},${Y(p[1])}`).join(" "), class: "anb-equity-line" }));
  const last = ys[ys.length - 1];
  box.append(el("div", { class: "anb-curve-head" },
    el("span", { class: "anb-label" }, `Equity · ${period}`), el("span", { class: "anb-value" }, `$${money(last)}`),
    el("span", { class: `anb-label ${last >= ys[0] ? "anb-up" : "anb-down"}` }, `${signed(last - ys[0])} · max drawdown ${num(worst * 100, 2)}%`)),
    chart);
  return box;
}

function fillsTable(fills) {
  if (!fills.length) return el("div", { class: "anb-empty" }, "No fills yet.");
  const when = (t) => { const d = new Date(t); return Number.isNaN(d.getTime()) ? t : d.toLocaleTimeString(); };
  return table(["Time", "Symbol", "Side", "Qty", "Price"], fills.map((f) =>
    el("tr", { class: "anb-fill", dataset: { symbol: f.symbol || "" } }, el("td", {}, when(f.time)), el("td", {}, f.symbol),
      el("td", { class: f.side === "buy" ? "anb-up" : "anb-down" }, f.side), el("td", {}, num(f.qty)), el("td", {}, money(f.price)))));
}

function pnlTable(rows) {
  if (!rows.length) return el("div", { class: "anb-empty" }, "No trades yet.");
  const cell = (v) => el("td", { class: v >= 0 ? "anb-up" : "anb-down" }, signed(v));
  return table(["Symbol", "Qty", "Realized", "Unrealized", "Total"], rows.map((r) =>
    el("tr", { class: "anb-pnl", dataset: { symbol: r.symbol } }, el("td", {}, r.symbol), el("td", {}, num(r.qty)),
      cell(r.realized), cell(r.unrealized), cell(r.total))));
}

function render({ model, el: root }) {
  root.classList.add("anb-widget", "anb-account-view");
  const draw = () => {
    const status = model.get("status");
    root.replaceChildren(
      el("div", { class: "anb-top" }, card(model.get("account")), equityCurve(model.get("curve"), model.get("curve_period"))),
      el("div", { class: "anb-bar" }, el("span", { class: "anb-badge", dataset: { status } }, status),
        el("span", { class: "anb-updated" }, model.get("updated") ? `updated ${model.get("updated")}` : ""),
        el("span", { class: "anb-message" }, model.get("message"))),
      el("h4", {}, "Positions"), positionsTable(model.get("positions")),
      el("h4", {}, "Open orders"), ordersTable(model.get("orders"), model),
      el("div", { class: "anb-columns" },
        el("div", {}, el("h4", {}, "Fills"), fillsTable(model.get("fills"))),
        el("div", {}, el("h4", {}, "P&L by symbol"), pnlTable(model.get("pnl")))));
  };
  draw();
  const names = ["account", "positions", "orders", "status", "updated", "message", "curve", "fills", "pnl"];
  for (const n of names) model.on(`change:${n}`, draw);
  return () => { for (const n of names) model.off(`change:${n}`, draw); };
}

export default { render };
