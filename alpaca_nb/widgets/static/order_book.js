// OrderBook front end: a depth ladder (bids left, asks right, best first), redrawn per frame.
// Frames are {type: "book", bids: n, asks: m, t} with two buffers: prices (float64) and sizes
// (float32), bids then asks. A click sends {type: "pick", side, index}; the kernel looks the price up
// in the frame it sent (the page never names a price).
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function fmt(p) {
  return p >= 1000 ? p.toLocaleString(undefined, { maximumFractionDigits: 2 }) : p >= 1 ? p.toFixed(4) : p.toPrecision(4);
}

function view(buf) {
  // a DataView or an ArrayBuffer, as ipywidgets hands them over
  return buf.buffer ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice().buffer : buf;
}

function render({ model, el }) {
  el.classList.add("anb-widget", "anb-book");
  const badge = h("span", { class: "anb-badge" });
  const spread = h("span", { class: "anb-book-spread" });
  const body = h("tbody", {});
  el.replaceChildren(
    h("div", { class: "anb-book-head" }, h("strong", {}, model.get("symbol")), h("span", {}, "order book"), badge, spread),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "bid size"), h("th", {}, "bid"), h("th", {}, "ask"), h("th", {}, "ask size"))), body));
  const status = () => { badge.dataset.status = model.get("status"); badge.textContent = model.get("status"); };
  status();
  let last = null;
  const draw = (msg, buffers) => {
    const prices = new Float64Array(view(buffers[0]));
    const sizes = new Float32Array(view(buffers[1]));
    const nb = msg.bids, na = msg.asks;
    let biggest = 0;
    for (let i = 0; i < nb + na; i++) biggest = Math.max(biggest, sizes[i]);
    const rows = [];
    const cells = (side, i, k) => {
      if (i >= (side === "bid" ? nb : na)) return [h("td", {}), h("td", {})];
      const size = sizes[k], price = prices[k];
      const bar = h("span", { class: "anb-bar", style: `width:${biggest ? (100 * size) / biggest : 0}%` });
      const s = h("td", { class: `anb-${side} anb-size`, dataset: { side, index: String(i) } }, bar,
        h("span", { class: "anb-num" }, size.toPrecision(4)));
      const p = h("td", { class: `anb-${side} anb-price`, dataset: { side, index: String(i) } }, fmt(price));
      return side === "bid" ? [s, p] : [p, s];
    };
    for (let i = 0; i < Math.max(nb, na); i++) {
      rows.push(h("tr", {}, ...cells("bid", i, i), ...cells("ask", i, nb + i)));
    }
    body.replaceChildren(...rows);
    if (nb && na) {
      const bid = prices[0], ask = prices[nb];
      const places = bid >= 1000 ? 2 : bid >= 1 ? 4 : 6;
      spread.textContent = `spread ${(ask - bid).toFixed(places).replace(/\.?0+$/, "")} · mid ${fmt((ask + bid) / 2)}`;
    } else spread.textContent = "no book yet";
    el.dataset.frames = String(Number(el.dataset.frames || 0) + 1);
    el.dataset.bestBid = nb ? String(prices[0]) : "";
    el.dataset.bestAsk = na ? String(prices[nb]) : "";
    last = msg.seq;
  };
  const onMsg = (msg, buffers) => { if (msg && msg.type === "book") draw(msg, buffers); };
  body.addEventListener("click", (event) => {
    const td = event.target.closest("td[data-side]");
    if (td) model.send({ type: "pick", side: td.dataset.side, index: Number(td.dataset.index), seq: last });
  });
  model.on("msg:custom", onMsg);
  model.on("change:status", status);
  model.send({ type: "ready" });
  return () => { model.off("msg:custom", onMsg); model.off("change:status", status); };
}

export default { render };
