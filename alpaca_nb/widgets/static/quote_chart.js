// QuoteChart front end. plotly.js arrives once per page (from the kernel, no CDN) and draws the figure:
// axes, legend, zoom and pan, minute candles. The streaming lines (bid, ask, trades) are drawn by this
// file on a canvas inside plotly's plot area: a plotly redraw costs 12-20 ms of main thread per frame on
// a 2-core machine even at 2k points (and WebGL falls back to software rendering there), while the
// canvas, drawing at most a few vertices per pixel column, stays under a few ms at 100k points
// (benchmarks/browser_frames.py). Plotly only redraws when an axis moves: the moving window's right edge
// runs a little ahead of the newest point and jumps forward when the data reaches it; y-ranges stick
// until the data leaves them.
//
// Messages: a "reset" snapshot, then "extend" deltas (float64 buffers: x in ms, then the value columns;
// a row of NaNs marks a hole in the data, drawn as a break). The x-range follows the newest point until
// the user zooms or pans; a double-click hands it back to the moving window.
const MAX_POINTS = 250000; // per series, in the browser
const LEAD = 0.05; // share of the window kept free on the right of the newest point
const Y_PAD = 0.1; // share of the data's span added above and below it

// One series of points, growing at the end: x (ms) and y in typed arrays.
class Series {
  constructor() {
    this.x = new Float64Array(1024);
    this.y = new Float64Array(1024);
    this.n = 0;
  }

  push(xs, ys) {
    const need = this.n + xs.length;
    if (need > this.x.length) {
      const size = Math.max(need, this.x.length * 2);
      const x = new Float64Array(size);
      const y = new Float64Array(size);
      x.set(this.x.subarray(0, this.n));
      y.set(this.y.subarray(0, this.n));
      this.x = x;
      this.y = y;
    }
    this.x.set(xs, this.n);
    this.y.set(ys, this.n);
    this.n = need;
    if (this.n > MAX_POINTS) this.dropBefore(this.n - MAX_POINTS);
  }

  dropBefore(index) {
    this.x.copyWithin(0, index, this.n);
    this.y.copyWithin(0, index, this.n);
    this.n -= index;
  }

  // The first index whose x is >= t.
  bisect(t) {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.x[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  newest() {
    return this.n ? this.x[this.n - 1] : 0;
  }
}

// Per pixel column of [x0, x1] (width px): first, min, max, last of the series' points, with the point
// just before x0 (column -1) so the line enters from the left edge. Breaks (NaN rows) start a new run.
class Columns {
  constructor() {
    this.grow(2048);
  }

  grow(size) {
    this.col = new Int32Array(size);
    this.brk = new Uint8Array(size);
    this.first = new Float64Array(size);
    this.min = new Float64Array(size);
    this.max = new Float64Array(size);
    this.last = new Float64Array(size);
  }

  fill(series, x0, x1, width) {
    if (this.col.length < 2 * width + 4) this.grow(2 * width + 4);
    const { x, y } = series;
    const scale = width / (x1 - x0);
    let k = -1;
    let col = NaN;
    let gap = false;
    for (let i = Math.max(0, series.bisect(x0) - 1); i < series.n; i++) {
      const v = y[i];
      if (v !== v) {
        gap = true;
        continue;
      }
      const c = Math.min(width, Math.max(-1, Math.floor((x[i] - x0) * scale)));
      if (c !== col || gap) {
        if (k + 1 >= this.col.length) break;
        k += 1;
        col = c;
        this.col[k] = c;
        this.brk[k] = gap ? 1 : 0;
        this.first[k] = this.min[k] = this.max[k] = this.last[k] = v;
        gap = false;
      } else {
        if (v < this.min[k]) this.min[k] = v;
        else if (v > this.max[k]) this.max[k] = v;
        this.last[k] = v;
      }
      if (x[i] > x1) break;
    }
    this.count = k + 1;
    return this.count;
  }

  // [lo, hi] of the points inside the window (columns 0 .. width-1).
  extent(width, into) {
    for (let k = 0; k < this.count; k++) {
      if (this.col[k] < 0 || this.col[k] >= width) continue;
      if (this.min[k] < into[0]) into[0] = this.min[k];
      if (this.max[k] > into[1]) into[1] = this.max[k];
    }
  }

  // A step line ("hv": a price holds until the next one), one vertical stroke per pixel column.
  strokeSteps(ctx, px0, py) {
    let pen = false;
    let prev = 0;
    for (let k = 0; k < this.count; k++) {
      const X = px0 + this.col[k] + 0.5;
      if (!pen || this.brk[k]) ctx.moveTo(X, py(this.first[k]));
      else ctx.lineTo(X, prev);
      ctx.lineTo(X, py(this.first[k]));
      ctx.lineTo(X, py(this.min[k]));
      ctx.lineTo(X, py(this.max[k]));
      prev = py(this.last[k]);
      ctx.lineTo(X, prev);
      pen = true;
    }
  }

  dots(ctx, px0, py) {
    for (let k = 0; k < this.count; k++) {
      const X = px0 + this.col[k];
      ctx.fillRect(X - 1.5, py(this.min[k]) - 1.5, 3, 3);
      if (this.max[k] !== this.min[k]) ctx.fillRect(X - 1.5, py(this.max[k]) - 1.5, 3, 3);
    }
  }
}

function columns(buffers, ref, width) {
  const [index, n] = ref;
  const view = buffers[index];
  const all = new Float64Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  const cols = [];
  for (let c = 0; c < width; c++) cols.push(all.subarray(c * n, (c + 1) * n));
  return cols;
}

function axisName(i, prefix) {
  return i ? `${prefix}${i + 1}` : prefix;
}

// The plotly figure: one y-axis per symbol, stacked (prices of different symbols don't flatten each
// other). The line traces hold no points (the canvas draws them); they give the legend and the colours.
function figure(model) {
  const symbols = model.get("symbols");
  const n = symbols.length;
  const traces = [];
  const { grid, layout: colours } = chartTheme();
  const layout = {
    ...colours, height: Math.max(360, 220 * n), margin: { l: 60, r: 20, t: 30, b: 40 },
    legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
    xaxis: { type: "date", anchor: n > 1 ? `y${n}` : "y", autorange: false, range: [0, 1], rangeslider: { visible: false },
             gridcolor: grid }, uirevision: "keep",
    hovermode: false,
  };
  symbols.forEach((symbol, i) => {
    const yaxis = i ? `y${i + 1}` : "y";
    const line = (name) => ({ name, type: "scatter", x: [null], y: [null], yaxis, mode: "lines", line: { width: 1.5 } });
    traces.push(line(`${symbol} bid`), line(`${symbol} ask`));
    if (model.get("show_trades")) {
      traces.push({ name: `${symbol} trades`, type: "scatter", x: [null], y: [null], yaxis, mode: "markers", marker: { size: 4 } });
    }
    if (model.get("show_bars")) {
      traces.push({ name: `${symbol} 1-min`, type: "candlestick", x: [], open: [], high: [], low: [], close: [],
                    yaxis, opacity: 0.5, hoverinfo: "skip" });
    }
    const gap = 0.04;
    layout[axisName(i, "yaxis")] = {
      domain: [1 - (i + 1) / n + (i === n - 1 ? 0 : gap), 1 - i / n], title: { text: symbol }, automargin: true,
      autorange: false, range: [0, 1], gridcolor: grid,
    };
  });
  return { traces, layout };
}

// What one chart shows: its series, the plotly figure, the canvas over it, and whether the x-range
// follows the newest point.
class Chart {
  constructor(Plotly, plot, model, readout) {
    this.Plotly = Plotly;
    this.plot = plot;
    this.model = model;
    this.readout = readout;
    this.symbols = model.get("symbols");
    this.trades = model.get("show_trades");
    this.bars = model.get("show_bars");
    this.perSymbol = 2 + (this.trades ? 1 : 0) + (this.bars ? 1 : 0);
    this.series = this.symbols.map(() => ({ bid: new Series(), ask: new Series(), trades: new Series() }));
    this.fills = [];
    this.cols = new Columns();
    this.following = true;
    this.own = 0; // relayouts of our own under way (not the user's zoom)
    this.right = 0; // the moving window's right edge (ms)
    this.lastX = 0;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "anb-chart-lines";
    plot.__anbChart = this; // for tests and benchmarks/browser_frames.py: the points this view holds
  }

  points() {
    return this.series.reduce((n, s) => n + s.bid.n + s.ask.n + s.trades.n, 0);
  }

  newPlot() {
    const { traces, layout } = figure(this.model);
    this.Plotly.newPlot(this.plot, traces, layout, { displaylogo: false, responsive: true, doubleClick: false });
    this.plot.querySelector(".main-svg").after(this.canvas); // above the grid, under legend and drag boxes
    this.right = 0;
  }

  // New points: into the series (lines) or plotly (candles, once a minute per symbol); your fills.
  add(msg, buffers) {
    if (msg.type === "reset") this.fills = [];
    for (const f of msg.fills || []) this.fills.push(f); // [t_ms, symbol, price, side ±1, qty]
    const candles = { x: [], open: [], high: [], low: [], close: [] };
    const candleIdx = [];
    for (const entry of msg.series) {
      const i = this.symbols.indexOf(entry.symbol);
      if (i < 0) continue;
      const s = this.series[i];
      if (entry.quotes && entry.quotes[1] > 0) {
        const [x, bid, ask] = columns(buffers, entry.quotes, 3);
        s.bid.push(x, bid);
        s.ask.push(x, ask);
        this.lastX = Math.max(this.lastX, x[x.length - 1]);
      }
      if (this.trades && entry.trades && entry.trades[1] > 0) {
        const [x, price] = columns(buffers, entry.trades, 2);
        s.trades.push(x, price);
        this.lastX = Math.max(this.lastX, x[x.length - 1]);
      }
      if (this.bars && entry.bars && entry.bars[1] > 0) {
        const [x, o, h, l, c] = columns(buffers, entry.bars, 5);
        [x, o, h, l, c].forEach((col, k) => candles[Object.keys(candles)[k]].push(Array.from(col, nullForNaN)));
        candleIdx.push(i * this.perSymbol + this.perSymbol - 1);
      }
    }
    if (candleIdx.length) this.Plotly.extendTraces(this.plot, candles, candleIdx, 20000);
  }

  // The axes' ranges when following: the window's right edge ahead of the newest point, y-ranges that
  // hold until the data leaves them. Plotly redraws only when one of them changes.
  follow(fresh = false) {
    if (!this.following || !this.lastX) return;
    const windowMs = this.model.get("window_s") * 1000;
    const update = {};
    if (this.lastX > this.right || this.right - this.lastX > 2 * LEAD * windowMs) {
      this.right = this.lastX + LEAD * windowMs;
      update["xaxis.range"] = [this.right - windowMs, this.right];
    }
    const x0 = (update["xaxis.range"] || this.xRange())[0];
    const width = this.xAxis()._length;
    this.symbols.forEach((_, i) => {
      const extent = [Infinity, -Infinity];
      for (const name of ["bid", "ask", "trades"]) {
        if (this.cols.fill(this.series[i][name], x0, this.right, width)) this.cols.extent(width, extent);
      }
      if (!(extent[0] <= extent[1])) return;
      const name = axisName(i, "yaxis");
      const [lo, hi] = this.plot._fullLayout[name].range;
      const span = extent[1] - extent[0] || Math.max(0.01, extent[0] * 0.001);
      if (fresh || extent[0] < lo || extent[1] > hi || hi - lo > 3 * span * (1 + 2 * Y_PAD)) {
        update[`${name}.range`] = [extent[0] - Y_PAD * span, extent[1] + Y_PAD * span];
      }
    });
    if (Object.keys(update).length) this.relayout(update);
  }

  // plotly emits "plotly_relayout" just before its promise settles: until then, it is ours.
  relayout(update) {
    this.own += 1;
    let done;
    try {
      done = this.Plotly.relayout(this.plot, update);
    } finally {
      Promise.resolve(done).finally(() => (this.own -= 1));
    }
  }

  xAxis() {
    return this.plot._fullLayout.xaxis;
  }

  xRange() {
    const xa = this.xAxis();
    return [xa.r2l(xa.range[0]), xa.r2l(xa.range[1])];
  }

  // The lines, on the canvas, in plotly's current axes (also while the user drags them).
  draw() {
    const full = this.plot._fullLayout;
    if (!full || !full.xaxis) return;
    const ratio = globalThis.devicePixelRatio || 1;
    const { canvas } = this;
    const w = full.width;
    const h = full.height;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const xa = full.xaxis;
    const [x0, x1] = this.xRange();
    const width = Math.max(1, Math.round(xa._length));
    const data = this.plot._fullData || [];
    this.symbols.forEach((_, i) => {
      const ya = full[axisName(i, "yaxis")];
      const [y0, y1] = [ya.r2l(ya.range[0]), ya.r2l(ya.range[1])];
      const py = (v) => ya._offset + (1 - (v - y0) / (y1 - y0)) * ya._length;
      ctx.save();
      ctx.beginPath();
      ctx.rect(xa._offset, ya._offset, xa._length, ya._length);
      ctx.clip();
      const base = i * this.perSymbol;
      ["bid", "ask", "trades"].forEach((name, k) => {
        if (name === "trades" && !this.trades) return;
        const trace = data[base + k] || {};
        const color = (name === "trades" ? trace.marker : trace.line)?.color || "#888";
        if (!this.cols.fill(this.series[i][name], x0, x1, width)) return;
        if (name === "trades") {
          ctx.fillStyle = color;
          this.cols.dots(ctx, xa._offset, py);
        } else {
          ctx.strokeStyle = color;
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          this.cols.strokeSteps(ctx, xa._offset, py);
          ctx.stroke();
        }
      });
      this.drawTrades(ctx, xa, i, py, x0, x1);
      ctx.restore();
    });
  }

  // Your open orders (dashed lines, labelled) and fills (▲ buy, ▼ sell at their price and time).
  drawTrades(ctx, xa, i, py, x0, x1) {
    const symbol = this.symbols[i];
    const css = getComputedStyle(this.plot);
    const up = css.getPropertyValue("--anb-up").trim() || "#1a7f37";
    const down = css.getPropertyValue("--anb-down").trim() || "#c62828";
    const px = (t) => xa._offset + ((t - x0) / (x1 - x0)) * xa._length;
    ctx.font = "11px sans-serif";
    for (const o of this.model.get("orders")) {
      if (o.symbol !== symbol) continue;
      for (const field of ["limit_price", "stop_price"]) {
        if (o[field] == null) continue;
        const y = py(o[field]);
        ctx.strokeStyle = ctx.fillStyle = o.side === "buy" ? up : down;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(xa._offset, y);
        ctx.lineTo(xa._offset + xa._length, y);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillText(`${o.side.toUpperCase()} ${o.qty} ${field === "stop_price" ? "STOP" : "LMT"} ${o[field].toFixed(2)}`,
          xa._offset + 4, y - 3);
      }
    }
    for (const [t, s, price, side] of this.fills) {
      if (s !== symbol || t < x0 || t > x1) continue;
      const X = px(t), Y = py(price), tip = side > 0 ? 7 : -7;
      ctx.fillStyle = side > 0 ? up : down;
      ctx.beginPath();
      ctx.moveTo(X, Y);
      ctx.lineTo(X - 5, Y + tip);
      ctx.lineTo(X + 5, Y + tip);
      ctx.closePath();
      ctx.fill();
    }
  }

  // The user's zoom or pan holds while data streams in; a double-click returns to following.
  watch() {
    const onRelayout = (ev) => {
      if (this.own || !ev) return;
      if (Object.keys(ev).some((k) => k.includes(".range") || k.includes("autorange"))) this.following = false;
      this.draw();
    };
    const onDrag = () => {
      this.following = false;
      this.draw();
    };
    this.plot.on("plotly_relayout", onRelayout);
    this.plot.on("plotly_relayouting", onDrag);
    this.plot.on("plotly_afterplot", () => this.draw());
    const onDouble = () => {
      this.following = true;
      this.right = 0;
      this.follow(true);
      this.draw();
    };
    const onMove = (ev) => this.showReadout(ev);
    this.plot.on("plotly_doubleclick", onDouble); // with doubleClick: false plotly changes no range itself
    this.plot.addEventListener("mousemove", onMove);
    return () => {
      this.plot.removeEventListener("mousemove", onMove);
    };
  }

  // Under the pointer: the time and each symbol's bid/ask then (the lines hold no plotly hover).
  showReadout(ev) {
    const full = this.plot._fullLayout;
    if (!full || !full.xaxis) return;
    const xa = full.xaxis;
    const box = this.plot.getBoundingClientRect();
    const px = ev.clientX - box.left - xa._offset;
    if (px < 0 || px > xa._length) {
      this.readout.textContent = "";
      return;
    }
    const [x0, x1] = this.xRange();
    const t = x0 + (px / xa._length) * (x1 - x0);
    const parts = [new Date(t).toISOString().slice(11, 23)];
    this.symbols.forEach((symbol, i) => {
      const { bid, ask } = this.series[i];
      const k = bid.bisect(t) - 1;
      if (k >= 0 && bid.y[k] === bid.y[k]) parts.push(`${symbol} ${bid.y[k].toFixed(2)} / ${ask.y[k].toFixed(2)}`);
    });
    this.readout.textContent = parts.join(" · ");
  }
}

function nullForNaN(v) {
  return Number.isNaN(v) ? null : v;
}

async function render({ model, el }) {
  el.classList.add("anb-widget", "anb-chart");
  const head = document.createElement("div");
  head.className = "anb-chart-head";
  const title = document.createElement("span");
  title.className = "anb-chart-title";
  const badge = document.createElement("span");
  badge.className = "anb-badge";
  const readout = document.createElement("span");
  readout.className = "anb-chart-readout";
  head.append(title, badge, readout);
  const plot = document.createElement("div");
  plot.className = "anb-chart-plot";
  el.append(head, plot);

  const showStatus = () => {
    const status = model.get("status");
    badge.textContent = status;
    badge.dataset.status = status;
  };
  const showTitle = () => (title.textContent = model.get("title"));
  showStatus();
  showTitle();
  model.on("change:status", showStatus);
  model.on("change:title", showTitle);

  const offHead = () => {
    model.off("change:status", showStatus);
    model.off("change:title", showTitle);
  };
  let Plotly;
  try {
    Plotly = await loadPlotly(model);
  } catch (err) {
    plot.textContent = `plotly.js could not be loaded: ${err}`;
    return offHead;
  }
  let chart = null;
  let unwatch = () => {};
  const onOrders = () => chart && chart.draw();
  model.on("change:orders", onOrders);
  const onMsg = (msg, buffers) => {
    if (!msg) return;
    const started = performance.now();
    if (msg.type === "reset") {
      unwatch();
      chart = new Chart(Plotly, plot, model, readout);
      chart.newPlot();
      unwatch = chart.watch();
    } else if (msg.type !== "extend" || !chart) {
      return;
    }
    chart.add(msg, buffers);
    chart.follow();
    chart.draw();
    measure(started, chart);
  };
  const offTheme = onThemeChange(() => {
    if (!chart) return;
    const { grid, layout: colours } = chartTheme();
    const update = { ...colours, "xaxis.gridcolor": grid };
    model.get("symbols").forEach((_, i) => (update[`${axisName(i, "yaxis")}.gridcolor`] = grid));
    chart.relayout(update);
  });
  model.on("msg:custom", onMsg);
  model.send({ type: "ready" });
  return () => {
    model.off("msg:custom", onMsg);
    model.off("change:orders", onOrders);
    offTheme();
    unwatch();
    offHead();
    Plotly.purge(plot); // removes plotly's own listeners too
  };
}

// Measurement for benchmarks/browser_frames.py, only when a page asks for it (globalThis.__anbPerf = []):
// main-thread ms spent on the frame (decode, plotly when an axis moved, the canvas), and newest point →
// painted (the next animation frame); the chart's series are exposed for counting.
function measure(started, chart) {
  const perf = globalThis.__anbPerf;
  if (!Array.isArray(perf)) return;
  const handled = performance.now() - started;
  const newest = chart.lastX;
  requestAnimationFrame(() => perf.push({ handled, painted: Date.now() - newest }));
}

export default { render };
