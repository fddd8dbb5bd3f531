// OrderTicket front end: inputs write the model's form traits; buttons send one-shot messages
// ("submit", "confirm" with the review's token, "back", "cancel-order"). All checks happen in Python:
// the kernel ignores anything else the page writes.
const TYPES = ["market", "limit", "stop", "stop_limit", "trailing_stop"];
const TIFS = ["day", "gtc", "opg", "cls", "ioc", "fok"];
const CLASSES = ["simple", "bracket", "oco", "oto"];

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function bindInput(model, name, attrs = {}) {
  const input = h("input", { name, ...attrs });
  input.value = model.get(name);
  input.addEventListener("change", () => { model.set(name, input.value.trim()); model.save_changes(); });
  return input;
}

function bindSelect(model, name, options) {
  const select = h("select", { name }, ...options.map((o) => h("option", { value: o }, o)));
  select.value = model.get(name);
  select.addEventListener("change", () => { model.set(name, select.value); model.save_changes(); });
  return select;
}

// The kernel says what the symbol's asset class allows (crypto: gtc/ioc, no stop or trailing stop).
function setOptions(select, options) {
  const now = Array.from(select.options).map((o) => o.value).join(",");
  if (!options || options.join(",") === now) return;
  const value = select.value;
  select.replaceChildren(...options.map((o) => h("option", { value: o }, o)));
  select.value = options.includes(value) ? value : options[0];
}

// A multi-leg order's payoff: dollars against the underlying at expiry (solid) and today (dotted).
function payoffSvg(points, breakevens) {
  const W = 300, H = 120, pad = 4;
  const xs = points.map((p) => p[0]), ys = points.flatMap((p) => [p[1], p[2]]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys, 0), Math.max(...ys, 0)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const line = (k) => points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[k]).toFixed(1)}`).join(" ");
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.classList.add("anb-payoff");
  const add = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); svg.append(n); return n; };
  add("line", { x1: pad, x2: W - pad, y1: sy(0), y2: sy(0), class: "anb-payoff-zero" });
  for (const b of breakevens || []) add("line", { x1: sx(b), x2: sx(b), y1: pad, y2: H - pad, class: "anb-payoff-be" });
  add("polyline", { points: line(2), class: "anb-payoff-today", fill: "none" });
  add("polyline", { points: line(1), class: "anb-payoff-expiry", fill: "none" });
  return svg;
}

// Prices as a trader reads them: cents above $10, more digits below (DOGE at 0.1534).
function fmtPrice(p) {
  return p >= 10 ? p.toFixed(2) : p >= 1 ? p.toFixed(4) : p.toPrecision(4);
}

function render({ model, el }) {
  // The form is built once; model changes update it in place, so typing is never interrupted.
  el.classList.add("anb-widget", "anb-ticket");
  const inputs = {};
  const rows = {};
  const field = (label, name, control, types, classes) => {
    inputs[name] = control;
    const row = h("label", { class: "anb-field" }, h("span", {}, label), control);
    if (types || classes) rows[name] = [row, types, classes];
    return row;
  };
  const radios = ["paper", "live"].map((acct) => {
    const radio = h("input", { type: "radio", name: "account", value: acct });
    radio.addEventListener("change", () => { model.set("account", acct); model.save_changes(); });
    return radio;
  });
  const reason = h("span", { class: "anb-live-reason" });
  const submit = h("button", { class: "anb-submit" }, "Submit");
  submit.addEventListener("click", () => model.send({ type: "submit" }));
  const quote = h("div", { class: "anb-quote" });
  const dynamic = h("div", {});
  el.replaceChildren(
    h("div", { class: "anb-ticket-head" }, h("strong", {}, "Order ticket"),
      h("div", { class: "anb-accounts" }, h("label", { class: "anb-acct-paper" }, radios[0], "PAPER"),
        h("label", { class: "anb-acct-live" }, radios[1], "LIVE"), reason)),
    h("div", { class: "anb-grid" },
      field("Symbol", "symbol", bindInput(model, "symbol", { size: 8 })),
      field("Side", "side", bindSelect(model, "side", ["buy", "sell"])),
      field("Qty", "qty", bindInput(model, "qty", { size: 8 })),
      field("or notional $", "notional", bindInput(model, "notional", { size: 8 }), ["market"]),
      field("Type", "order_type", bindSelect(model, "order_type", TYPES)),
      field("Time in force", "tif", bindSelect(model, "tif", TIFS)),
      field("Limit", "limit_price", bindInput(model, "limit_price", { size: 8 }), ["limit", "stop_limit"]),
      field("Stop", "stop_price", bindInput(model, "stop_price", { size: 8 }), ["stop", "stop_limit"]),
      field("Trail $", "trail_price", bindInput(model, "trail_price", { size: 6 }), ["trailing_stop"]),
      field("or trail %", "trail_percent", bindInput(model, "trail_percent", { size: 6 }), ["trailing_stop"]),
      field("Class", "order_class", bindSelect(model, "order_class", CLASSES)),
      field("Take profit", "take_profit", bindInput(model, "take_profit", { size: 8 }), null, ["bracket", "oco", "oto"]),
      field("Stop loss", "stop_loss", bindInput(model, "stop_loss", { size: 8 }), null, ["bracket", "oco", "oto"]),
      field("Stop-loss limit", "stop_loss_limit", bindInput(model, "stop_loss_limit", { size: 8 }), null, ["bracket", "oco", "oto"])),
    quote, h("div", { class: "anb-actions" }, submit), dynamic);

  const update = () => {
    const choices = model.get("choices") || {};
    for (const name of ["order_type", "tif", "order_class"]) setOptions(inputs[name], choices[name]);
    const type = model.get("order_type");
    const account = model.get("account");
    el.dataset.account = account;
    for (const [name, input] of Object.entries(inputs)) {
      if (document.activeElement !== input && input.value !== String(model.get(name))) input.value = model.get(name);
    }
    const klass = model.get("order_class");
    for (const [name, [row, types0, classes]] of Object.entries(rows)) {
      const types = name === "notional" && choices.notional_types ? choices.notional_types : types0;
      const shown = (!types || types.includes(type)) && (!classes || classes.includes(klass));
      row.style.display = shown ? "" : "none";
    }
    radios[0].checked = account === "paper";
    radios[1].checked = account === "live";
    radios[1].disabled = !model.get("live_allowed");
    reason.textContent = model.get("live_allowed") ? "" : model.get("live_reason");
    submit.textContent = account === "live" ? "Review LIVE order" : "Submit";
    submit.disabled = model.get("confirming");
    quote.replaceChildren(model.get("asset"), " ",
      model.get("bid") ? `bid ${fmtPrice(model.get("bid"))} · ask ${fmtPrice(model.get("ask"))} ` : "",
      h("span", { class: "anb-estimate" }, model.get("estimate")));
    const parts = [];
    const legs = model.get("legs") || [];
    el.dataset.legs = String(legs.length);
    for (const name of ["symbol", "side", "notional", "stop_price", "trail_price", "trail_percent", "order_class"]) {
      const row = inputs[name] && inputs[name].closest("label");
      if (row && legs.length) row.style.display = "none";
    }
    if (legs.length) {
      const spread = model.get("spread") || {};
      const list = h("div", { class: "anb-legs" }, ...legs.map((leg) => {
        const remove = h("button", { class: "anb-remove-leg" }, "×");
        remove.addEventListener("click", () => model.send({ type: "remove-leg", symbol: leg.symbol }));
        return h("div", { class: `anb-leg anb-leg-${leg.side}` }, `${leg.side.toUpperCase()} ${leg.ratio} ${leg.symbol} `, remove);
      }));
      const facts = [];
      if (spread.error) facts.push(h("div", { class: "anb-message" }, spread.error));
      if (spread.net != null) {
        const net = spread.net >= 0 ? `net debit ${spread.net.toFixed(2)}` : `net credit ${(-spread.net).toFixed(2)}`;
        const money = (x) => (x == null ? "unlimited" : `$${x.toLocaleString(undefined, { maximumFractionDigits: 2 })}`);
        facts.push(h("div", { class: "anb-spread-facts" }, `${net} · max gain ${money(spread.max_gain)} · max loss ${money(spread.max_loss)}`,
          " · breakeven ", h("span", { class: "anb-breakevens" }, (spread.breakevens || []).map((b) => b.toFixed(2)).join(", ") || "none")));
      }
      if (spread.points && spread.points.length) facts.push(payoffSvg(spread.points, spread.breakevens));
      parts.push(h("div", { class: "anb-spread" }, list, ...facts));
    }
    if (model.get("confirming")) {
      const confirm = h("button", { class: "anb-confirm" }, "Confirm LIVE order");
      confirm.addEventListener("click", () => model.send({ type: "confirm", token: model.get("review_token") }));
      const back = h("button", { class: "anb-back" }, "Back");
      back.addEventListener("click", () => model.send({ type: "back" }));
      parts.push(h("div", { class: "anb-confirm-box" }, h("div", {}, model.get("confirm_text")), confirm, back));
    }
    if (model.get("message")) parts.push(h("div", { class: "anb-message" }, model.get("message")));
    if (model.get("order_id")) {
      const status = model.get("order_status");
      const line = h("div", { class: "anb-status", dataset: { status } }, model.get("status_line"));
      if (["accepted", "new", "partially_filled", "pending_new", "held"].includes(status)) {
        const cancel = h("button", { class: "anb-cancel-order" }, "Cancel");
        cancel.addEventListener("click", () => model.send({ type: "cancel-order" }));
        line.append(" ", cancel);
      }
      parts.push(line);
    }
    dynamic.replaceChildren(...parts);
  };
  update();
  model.on("change", update);
  return () => model.off("change", update);
}

export default { render };
