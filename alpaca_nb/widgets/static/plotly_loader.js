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

// Plotly colours that follow JupyterLab's theme (light or dark): text and grid from --jp-* variables,
// transparent backgrounds so the notebook's own shows through.
function chartTheme() {
  const body = document.body || document.documentElement;
  const dark = body.dataset && body.dataset.jpThemeLight === "false";
  const css = getComputedStyle(body);
  const ink = css.getPropertyValue("--jp-ui-font-color1").trim() || (dark ? "#e6e6e6" : "#1f1f1f");
  const grid = css.getPropertyValue("--jp-border-color2").trim() || (dark ? "#444" : "#e5e5e5");
  return { dark, ink, grid, layout: { paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: ink } } };
}

// Calls ``redraw`` whenever JupyterLab switches theme; returns the function that stops watching.
function onThemeChange(redraw) {
  if (!document.body) return () => {};
  const watcher = new MutationObserver(redraw);
  watcher.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => watcher.disconnect();
}
