// plotly.js arrives once per page from the kernel (no CDN): the first chart asks its model for it
// ("need-plotly"), evaluates it as a CommonJS module and keeps the promise on globalThis; every later
// chart, of any kind, reuses it. (Shared by the chart widgets: each one's ESM starts with this file.)
const PLOTLY_KEY = "__alpacaNbPlotly";

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
