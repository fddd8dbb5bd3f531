// BarChart front end (after plotly_loader.js): candles + volume, fills as buy/sell markers, open orders
// as horizontal lines that can be dragged. A drag only sends the kernel {type: "drag", id, field, price};
// the kernel answers with a proposal (its own text and a one-time token) that a click confirms.
const GREEN = "#1a7f37";
const RED = "#c62828";

function columns(buffers, ref, width) {
  const [index, n] = ref;
  const view = buffers[index];
  const all = new Float64Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  const cols = [];
  for (let c = 0; c < width; c++) cols.push(Array.from(all.subarray(c * n, (c + 1) * n)));
  return cols;
}

class Chart {
  constructor(Plotly, plot, model) {
    this.Plotly = Plotly;
    this.plot = plot;
    this.model = model;
    this.candles = { t: [], o: [], h: [], l: [], c: [], v: [] };
    this.fills = { t: [], price: [], side: [], qty: [] };
    this.lines = []; // [{id, field}] in the order of the layout's shapes
    plot.__anbChart = this; // for tests: what the view holds
  }

  upsert(cols) {
    const [t, o, h, l, c, v] = cols;
    const k = this.candles;
    for (let i = 0; i < t.length; i++) {
      const last = k.t.length - 1;
      const at = last >= 0 && k.t[last] === t[i] ? last : k.t.indexOf(t[i]);
      const row = [t[i], o[i], h[i], l[i], c[i], v[i]];
      if (at >= 0) ["t", "o", "h", "l", "c", "v"].forEach((key, j) => (k[key][at] = row[j]));
      else ["t", "o", "h", "l", "c", "v"].forEach((key, j) => k[key].push(row[j]));
    }
  }

  addFills(cols) {
    const [t, price, side, qty] = cols;
    for (let i = 0; i < t.length; i++) {
      this.fills.t.push(t[i]); this.fills.price.push(price[i]); this.fills.side.push(side[i]); this.fills.qty.push(qty[i]);
    }
  }

  traces() {
    const k = this.candles, f = this.fills;
    const x = k.t.map((t) => new Date(t));
    const marker = (sign, name, color, symbol) => {
      const pick = f.side.map((s, i) => (s === sign ? i : -1)).filter((i) => i >= 0);
      return { type: "scatter", mode: "markers", name, x: pick.map((i) => new Date(f.t[i])), y: pick.map((i) => f.price[i]),
        text: pick.map((i) => `${name} ${f.qty[i]} @ ${f.price[i].toFixed(2)}`), hoverinfo: "text+x",
        marker: { symbol, size: 11, color, line: { width: 1, color: "#fff" } }, yaxis: "y" };
    };
    return [
      { type: "candlestick", name: this.model.get("symbol"), x, open: k.o, high: k.h, low: k.l, close: k.c,
        increasing: { line: { color: GREEN } }, decreasing: { line: { color: RED } }, yaxis: "y" },
      { type: "bar", name: "volume", x, y: k.v, marker: { color: k.c.map((c, i) => (c >= k.o[i] ? GREEN : RED)), opacity: 0.45 },
        yaxis: "y2", hoverinfo: "y+x" },
      marker(1, "buy", GREEN, "triangle-up"),
      marker(-1, "sell", RED, "triangle-down"),
    ];
  }

  layout() {
    const { grid, layout: colours } = chartTheme();
    const shapes = [], annotations = [];
    const proposal = this.model.get("proposal") || {};
    this.lines = [];
    for (const o of this.model.get("orders")) {
      for (const field of ["limit_price", "stop_price"]) {
        if (o[field] == null) continue;
        const color = o.side === "buy" ? GREEN : RED;
        const proposed = proposal.id === o.id && proposal.field === field; // drawn where it was dropped
        const y = proposed ? proposal.price : o[field];
        this.lines.push({ id: o.id, field });
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: y, y1: y,
          line: { color: proposed ? "#bf6a02" : color, width: proposed ? 2.5 : 1.5, dash: field === "stop_price" ? "dot" : "dash" } });
        annotations.push({ xref: "paper", x: 0, xanchor: "left", yref: "y", y: o[field], yanchor: "bottom", showarrow: false,
          text: `${o.side.toUpperCase()} ${o.qty} ${field === "stop_price" ? "STOP" : "LMT"} ${o[field].toFixed(2)}`,
          font: { color, size: 11 } });
      }
    }
    return { height: 460, margin: { l: 50, r: 20, t: 10, b: 30 }, showlegend: false, uirevision: "keep", ...colours,
      xaxis: { type: "date", rangeslider: { visible: false }, gridcolor: grid },
      yaxis: { domain: [0.25, 1], gridcolor: grid, title: { text: this.model.get("symbol") } },
      yaxis2: { domain: [0, 0.2], gridcolor: grid, title: { text: "volume" } }, shapes, annotations };
  }

  draw() {
    if (this.holding) { this.deferred = true; return; } // a redraw mid-drag would drop the line being dragged
    this.deferred = false;
    const started = performance.now();
    this.Plotly.react(this.plot, this.traces(), this.layout(),
      { displaylogo: false, responsive: true, edits: { shapePosition: true } });
    this.lastDrawMs = performance.now() - started;
  }

  // A dragged line: only its price is news; the kernel decides what it means.
  watch() {
    // While a button is down on the plot, draws wait; the one owed is made once Plotly has seen the release.
    this.plot.addEventListener("pointerdown", () => (this.holding = true), true);
    this.release = () => {
      if (!this.holding) return;
      setTimeout(() => { this.holding = false; if (this.deferred) this.draw(); }, 0);
    };
    window.addEventListener("pointerup", this.release);
    window.addEventListener("pointercancel", this.release);
    const onRelayout = (ev) => {
      if (!ev) return;
      for (const key of Object.keys(ev)) {
        const m = /^shapes\[(\d+)\]\.y0$/.exec(key);
        const line = m && this.lines[Number(m[1])];
        if (line) this.model.send({ type: "drag", id: line.id, field: line.field, price: Number(ev[key]) });
      }
    };
    this.plot.on("plotly_relayout", onRelayout);
  }
}

function proposalBar(model) {
  const bar = document.createElement("div");
  bar.className = "anb-proposal";
  const show = () => {
    const p = model.get("proposal");
    bar.replaceChildren();
    bar.hidden = !(p && p.token);
    if (bar.hidden) return;
    bar.dataset.live = p.live ? "true" : "false";
    const text = document.createElement("span");
    text.textContent = p.text;
    const yes = document.createElement("button");
    yes.className = "anb-confirm";
    yes.textContent = p.live ? "Confirm LIVE replace" : "Confirm";
    yes.addEventListener("click", () => { yes.disabled = true; model.send({ type: "confirm", token: p.token }); });
    const no = document.createElement("button");
    no.textContent = "Cancel";
    no.addEventListener("click", () => model.send({ type: "dismiss" }));
    bar.append(text, yes, no);
  };
  show();
  model.on("change:proposal", show);
  return [bar, () => model.off("change:proposal", show)];
}

async function render({ model, el }) {
  el.classList.add("anb-widget", "anb-bar-chart");
  const head = document.createElement("div");
  head.className = "anb-chart-head";
  const title = document.createElement("span");
  title.className = "anb-chart-title";
  title.textContent = model.get("title");
  const message = document.createElement("span");
  message.className = "anb-message";
  const showMessage = () => (message.textContent = model.get("message"));
  showMessage();
  model.on("change:message", showMessage);
  head.append(title, message);
  const [bar, offBar] = proposalBar(model);
  const plot = document.createElement("div");
  plot.className = "anb-chart-plot";
  el.append(head, bar, plot);
  const offHead = () => { model.off("change:message", showMessage); offBar(); };
  let Plotly;
  try {
    Plotly = await loadPlotly(model);
  } catch (err) {
    plot.textContent = `plotly.js could not be loaded: ${err}`;
    return offHead;
  }
  const chart = new Chart(Plotly, plot, model);
  let ready = false;
  const onMsg = (msg, buffers) => {
    if (!msg || (msg.type !== "reset" && msg.type !== "extend")) return;
    const started = performance.now();
    if (msg.type === "reset") {
      chart.candles = { t: [], o: [], h: [], l: [], c: [], v: [] };
      chart.fills = { t: [], price: [], side: [], qty: [] };
    } else if (!ready) return;
    chart.upsert(columns(buffers, msg.candles, 6));
    chart.addFills(columns(buffers, msg.fills, 4));
    chart.draw();
    if (!ready) {
      ready = true;
      chart.watch();
      chart.firstDrawMs = performance.now() - started; // decode + plotly's first render (tests read it)
    }
  };
  const onOrders = () => ready && chart.draw(); // also when a proposal comes or goes: the line follows it
  const offTheme = onThemeChange(() => ready && chart.draw());
  model.on("msg:custom", onMsg);
  model.on("change:orders", onOrders);
  model.on("change:proposal", onOrders);
  model.send({ type: "ready" });
  return () => {
    model.off("msg:custom", onMsg);
    model.off("change:orders", onOrders);
    model.off("change:proposal", onOrders);
    offTheme();
    offHead();
    if (chart.release) {
      window.removeEventListener("pointerup", chart.release);
      window.removeEventListener("pointercancel", chart.release);
    }
    Plotly.purge(plot);
  };
}

export default { render };
