// OptionChain front end: expiration tabs (writing `expiration`), then calls | strike | puts. Rows come as
// {type: "rows", seq, rows: [[strike, cBid, cAsk, cIv, cDelta, pBid, pAsk, pIv, pDelta], ...]}. A click on a
// bid or an ask sends {type: "pick", row, side, field, seq}: the kernel finds the contract itself.
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

const f2 = (x) => (x == null ? "" : x.toFixed(2));
const pct = (x) => (x == null ? "" : (100 * x).toFixed(1) + "%");
const d2 = (x) => (x == null ? "" : x.toFixed(2));

function render({ model, el }) {
  el.classList.add("anb-widget", "anb-chain");
  const badge = h("span", { class: "anb-badge" });
  const spot = h("span", { class: "anb-muted" });
  const tabs = h("div", { class: "anb-chain-tabs" });
  const body = h("tbody", {});
  const head = h("tr", {}, ...["Δ", "IV", "bid", "ask"].map((t) => h("th", {}, t)), h("th", {}, "strike"),
    ...["bid", "ask", "IV", "Δ"].map((t) => h("th", {}, t)));
  el.replaceChildren(
    h("div", { class: "anb-chain-head" }, h("strong", {}, model.get("underlying")), h("span", {}, "options · calls | puts"), badge, spot),
    tabs, h("table", {}, h("thead", {}, head), body));
  let seq = null;
  const drawTabs = () => {
    const now = model.get("expiration");
    tabs.replaceChildren(...model.get("expirations").map((d) => {
      const b = h("button", { "aria-pressed": String(d === now), dataset: { expiration: d } }, d.slice(5));
      b.addEventListener("click", () => { model.set("expiration", d); model.save_changes(); });
      return b;
    }));
  };
  const status = () => {
    badge.dataset.status = model.get("status");
    badge.textContent = model.get("status");
    spot.textContent = model.get("spot") ? `${model.get("underlying")} ${model.get("spot").toFixed(2)}` : "";
  };
  const quoteCell = (value, i, side, field) =>
    h("td", { class: `anb-q anb-${side}`, dataset: { row: String(i), side, field } }, f2(value));
  const draw = (msg) => {
    seq = msg.seq;
    const s = model.get("spot");
    body.replaceChildren(...msg.rows.map((r, i) => {
      const tr = h("tr", {},
        h("td", { class: "anb-call" }, d2(r[4])), h("td", { class: "anb-call" }, pct(r[3])),
        quoteCell(r[1], i, "call", "bid"), quoteCell(r[2], i, "call", "ask"),
        h("td", { class: "anb-strike" }, String(r[0])),
        quoteCell(r[5], i, "put", "bid"), quoteCell(r[6], i, "put", "ask"),
        h("td", { class: "anb-put" }, pct(r[7])), h("td", { class: "anb-put" }, d2(r[8])));
      if (s && r[0] < s) tr.classList.add("anb-itm-call");
      if (s && r[0] > s) tr.classList.add("anb-itm-put");
      return tr;
    }));
    el.dataset.frames = String(Number(el.dataset.frames || 0) + 1);
  };
  body.addEventListener("click", (event) => {
    const td = event.target.closest("td.anb-q");
    if (td) model.send({ type: "pick", row: Number(td.dataset.row), side: td.dataset.side, field: td.dataset.field, seq });
  });
  const onMsg = (msg) => { if (msg && msg.type === "rows") draw(msg); };
  model.on("msg:custom", onMsg);
  model.on("change:expiration", drawTabs);
  model.on("change:status", status);
  model.on("change:spot", status);
  drawTabs();
  status();
  model.send({ type: "ready" });
  return () => {
    model.off("msg:custom", onMsg); model.off("change:expiration", drawTabs);
    model.off("change:status", status); model.off("change:spot", status);
  };
}

export default { render };
