// QuoteChart front end: plotly.js arrives once per page (from the kernel, no CDN); the series arrives
// as a "reset" snapshot, then "extend" deltas (float64 buffers: x in ms, then the value columns; a row
// of NaNs marks a hole in the data, drawn as a break). The x-range follows the newest point until the
// user zooms or pans; a double-click hands it back to the moving window.
const PLOTLY_KEY = "__alpacaNbPlotly";
const MAX_POINTS = 20000; // per trace, in the browser

function loadPlotly(model) {
  if (!globalThis[PLOTLY_KEY]) {
    globalThis[PLOTLY_KEY] = new Promise((resolve, reject) => {
      const onMsg = (msg, buffers) => {
        if (!msg || msg.type !== "plotly") return;
        model.off("msg:custom", onMsg);
        try {
          const code = new TextDecoder().decode(buffers[0]);
          const mod = { exports: {} };
          new Function("module", "exports", code)(mod, mod.exports); // plotly.min.js is UMD
          resolve(mod.exports);
        } catch (err) {
          globalThis[PLOTLY_KEY] = undefined;
          reject(err);
        }
      };
      model.on("msg:custom", onMsg);
      model.send({ type: "need-plotly" });
    });
  }
  return globalThis[PLOTLY_KEY];
}

function columns(buffers, ref, width) {
  const [index, n] = ref;
  const view = buffers[index];
  const all = new Float64Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  const cols = [];
  for (let c = 0; c < width; c++) {
    const col = Array.from(all.subarray(c * n, (c + 1) * n));
    cols.push(c ? col.map((v) => (Number.isNaN(v) ? null : v)) : col); // null: plotly breaks the line
  }
  return cols;
}

function layoutOf(model) {
  const trades = model.get("show_trades");
  const bars = model.get("show_bars");
  return { perSymbol: 2 + (trades ? 1 : 0) + (bars ? 1 : 0), trades, bars };
}

// One y-axis per symbol, stacked: prices of different symbols don't flatten each other.
function emptyTraces(model) {
  const { trades, bars } = layoutOf(model);
  const traces = [];
  model.get("symbols").forEach((symbol, i) => {
    const yaxis = i ? `y${i + 1}` : "y";
    const line = (name) => ({ name, x: [], y: [], yaxis, mode: "lines", line: { shape: "hv", width: 1.5 } });
    traces.push(line(`${symbol} bid`), line(`${symbol} ask`));
    if (trades) traces.push({ name: `${symbol} trades`, x: [], y: [], yaxis, mode: "markers", marker: { size: 4 } });
    if (bars) {
      traces.push({ name: `${symbol} 1-min`, type: "candlestick", x: [], open: [], high: [], low: [], close: [],
                    yaxis, opacity: 0.5 });
    }
  });
  return traces;
}

function plotLayout(model) {
  const symbols = model.get("symbols");
  const n = symbols.length;
  const layout = {
    height: Math.max(360, 220 * n), margin: { l: 60, r: 20, t: 10, b: 40 }, legend: { orientation: "h" },
    xaxis: { type: "date", anchor: n > 1 ? `y${n}` : "y" }, uirevision: "keep",
  };
  symbols.forEach((symbol, i) => {
    const gap = 0.04;
    const top = 1 - i / n;
    const bottom = 1 - (i + 1) / n;
    layout[i ? `yaxis${i + 1}` : "yaxis"] = {
      domain: [bottom + (i === n - 1 ? 0 : gap), top], title: { text: symbol }, automargin: true,
    };
  });
  return layout;
}

function apply(Plotly, plot, model, msg, buffers, view) {
  const { perSymbol, trades, bars } = layoutOf(model);
  const symbols = model.get("symbols");
  const lines = { x: [], y: [] };
  const lineIdx = [];
  const candles = { x: [], open: [], high: [], low: [], close: [] };
  const candleIdx = [];
  let lastX = 0;
  for (const entry of msg.series) {
    const base = symbols.indexOf(entry.symbol) * perSymbol;
    if (base < 0) continue;
    if (entry.quotes && entry.quotes[1] > 0) {
      const [x, bid, ask] = columns(buffers, entry.quotes, 3);
      lines.x.push(x, x);
      lines.y.push(bid, ask);
      lineIdx.push(base, base + 1);
      lastX = Math.max(lastX, x[x.length - 1]);
    }
    if (trades && entry.trades && entry.trades[1] > 0) {
      const [x, price] = columns(buffers, entry.trades, 2);
      lines.x.push(x);
      lines.y.push(price);
      lineIdx.push(base + 2);
      lastX = Math.max(lastX, x[x.length - 1]);
    }
    if (bars && entry.bars && entry.bars[1] > 0) {
      const [x, o, h, l, c] = columns(buffers, entry.bars, 5);
      candles.x.push(x); candles.open.push(o); candles.high.push(h); candles.low.push(l); candles.close.push(c);
      candleIdx.push(base + perSymbol - 1);
    }
  }
  if (lineIdx.length) Plotly.extendTraces(plot, lines, lineIdx, MAX_POINTS);
  if (candleIdx.length) Plotly.extendTraces(plot, candles, candleIdx, MAX_POINTS);
  if (lastX) view.lastX = Math.max(view.lastX, lastX);
  if (view.lastX && view.following) {
    const windowMs = model.get("window_s") * 1000;
    view.own += 1; // our own relayout: not the user's zoom
    Plotly.relayout(plot, { "xaxis.range": [view.lastX - windowMs, view.lastX] }).finally(() => (view.own -= 1));
  }
}

// The user's zoom or pan holds while data streams in; a double-click (autorange) returns to following.
function watchZoom(plot, view) {
  plot.on("plotly_relayout", (ev) => {
    if (view.own || !ev) return;
    if (ev["xaxis.autorange"]) view.following = true;
    else if ("xaxis.range[0]" in ev || "xaxis.range" in ev) view.following = false;
  });
  plot.on("plotly_doubleclick", () => { view.following = true; });
}

async function render({ model, el }) {
  el.classList.add("anb-chart");
  const head = document.createElement("div");
  head.className = "anb-chart-head";
  const title = document.createElement("span");
  title.className = "anb-chart-title";
  const badge = document.createElement("span");
  badge.className = "anb-badge";
  head.append(title, badge);
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
  let ready = false;
  const view = { following: true, own: 0, lastX: 0 };
  const onMsg = (msg, buffers) => {
    if (!msg) return;
    const started = performance.now();
    if (msg.type === "reset") {
      Plotly.newPlot(plot, emptyTraces(model), plotLayout(model), { displaylogo: false, responsive: true });
      watchZoom(plot, view);
      ready = true;
      apply(Plotly, plot, model, msg, buffers, view);
    } else if (msg.type === "extend" && ready) {
      apply(Plotly, plot, model, msg, buffers, view);
    } else {
      return;
    }
    measure(started, view.lastX);
  };
  model.on("msg:custom", onMsg);
  model.send({ type: "ready" });
  return () => {
    model.off("msg:custom", onMsg);
    offHead();
    Plotly.purge(plot); // removes plotly's own listeners too
  };
}

// Measurement for benchmarks/browser_frames.py, only when a page asks for it (globalThis.__anbPerf = []):
// main-thread ms spent in the frame handler, and newest point → painted (the next animation frame).
function measure(started, newestMs) {
  const perf = globalThis.__anbPerf;
  if (!Array.isArray(perf)) return;
  const handled = performance.now() - started;
  requestAnimationFrame(() => perf.push({ handled, painted: Date.now() - newestMs }));
}

export default { render };
