/**
 * The report as one self-contained HTML file that opens offline (file://): the table, the charts
 * and each method's recipe. Charts are drawn by Chart.js 4 (MIT; canvas rendering, no
 * dependencies at run time, a single UMD file), whose minified build is read from node_modules
 * and inlined; the chart data travels as JSON in the page. A Content-Security-Policy forbids every
 * network fetch, so the page cannot silently depend on one.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import * as Charts from "./Charts.js"
import type { ChartSpec } from "./Charts.js"
import { ReportError, totals } from "./Runs.js"
import type { Run } from "./Runs.js"
import * as Table from "./Table.js"

let chartJs: string | undefined

/** Chart.js's minified UMD build (`dist/chart.umd.min.js` beside the package's main file). */
export const chartJsSource = (): Effect.Effect<string, ReportError> =>
  Effect.try({
    try: () => {
      if (chartJs !== undefined) return chartJs
      // chart.js's "exports" map hides dist/*.umd.js, so resolve its main entry and look beside it.
      const main = createRequire(import.meta.url).resolve("chart.js")
      // The source-map comment would point at a file the report does not carry.
      const source = readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8").replace(/\n\/\/# sourceMappingURL=\S*\s*$/, "\n")
      if (/<\/script/i.test(source)) throw new Error("it contains </script and cannot be inlined")
      chartJs = source
      return source
    },
    catch: (e) => new ReportError({ message: `chart.js: cannot read its UMD build (${e instanceof Error ? e.message : String(e)})` })
  })

export const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** JSON that is safe inside a <script> element ("<" never appears literally). */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c")

const tableHtml = (t: Table.Table) => {
  const { header, body } = Table.cells(t)
  const row = (cs: string[], tag: "th" | "td", cls = "") => `<tr${cls}>${cs.map((c, j) => `<${tag}${j > 0 ? ' class="num"' : ""}>${escapeHtml(c)}</${tag}>`).join("")}</tr>`
  const deltaAt = t.delta ? body.length - 1 : -1
  return [
    '<div class="table-wrap">',
    '<table id="duet-table">',
    `<thead>${row(header, "th")}</thead>`,
    `<tbody>${body.map((cs, i) => row(cs, "td", i === deltaAt ? ' class="delta"' : "")).join("\n")}</tbody>`,
    "</table>",
    "</div>",
    `<ul class="notes">${Table.notes(t).map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`
  ].join("\n")
}

const withoutSeed = (recipe: Record<string, unknown>) => JSON.stringify({ ...recipe, seed: undefined })

const recipesHtml = (runs: ReadonlyArray<Run>, order: ReadonlyArray<string>) =>
  order
    .map((method) => {
      const group = runs.filter((r) => r.method === method).sort((a, b) => a.seed - b.seed)
      const same = group.every((r) => withoutSeed(r.recipe) === withoutSeed(group[0]!.recipe))
      const blocks = same
        ? [`<p>seeds ${group.map((r) => r.seed).join(", ")} share this recipe (apart from <code>seed</code>):</p><pre>${escapeHtml(JSON.stringify(group[0]!.recipe, null, 2))}</pre>`]
        : group.map((r) => `<p>${escapeHtml(basename(r.dir))} (seed ${r.seed}):</p><pre>${escapeHtml(JSON.stringify(r.recipe, null, 2))}</pre>`)
      return `<details class="recipe"><summary>${escapeHtml(method)}</summary>${blocks.join("\n")}</details>`
    })
    .join("\n")

const runsHtml = (runs: ReadonlyArray<Run>) => {
  const rows = runs.map((r) => {
    const t = totals(r)
    const status = r.summary ? "finished" : "unfinished (no summary.json)"
    const skipped = r.skippedLines.length > 0 ? `; skipped unparseable metrics.jsonl line(s) ${r.skippedLines.join(", ")}` : ""
    return `<tr><td>${escapeHtml(basename(r.dir))}</td><td>${escapeHtml(r.method)}</td><td class="num">${r.seed}</td><td class="num">${t.steps}</td><td>${escapeHtml(status + skipped)}</td></tr>`
  })
  return `<div class="table-wrap"><table id="duet-runs"><thead><tr><th>directory</th><th>method</th><th class="num">seed</th><th class="num">steps</th><th>status</th></tr></thead><tbody>${rows.join("\n")}</tbody></table></div>`
}

const chartsHtml = (charts: ReadonlyArray<ChartSpec>) =>
  charts
    .map(
      (c) =>
        `<figure class="chart${c.metric === undefined ? "" : " metric"}" id="figure-${c.id}"${c.metric === undefined ? "" : ` data-metric="${escapeHtml(c.metric)}"`}><div class="canvas-box"><canvas id="chart-${c.id}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div></figure>`
    )
    .join("\n")

/** The prefix a metric is grouped under: `actor/ppo_kl` -> "actor", `val-core/test/meanAtN` -> "val-core". */
export const groupOf = (metric: string) => (metric.includes("/") ? metric.slice(0, metric.indexOf("/")) : "(other)")

/** Picker (group + text filter) and smoothing slider for the per-metric charts. */
const metricsToolbar = (metrics: ReadonlyArray<ChartSpec>) => {
  const groups = [...new Set(metrics.map((c) => groupOf(c.metric!)))].sort()
  return `<div class="toolbar">
<label>group <select id="metric-group"><option value="">all (${metrics.length})</option>${groups
    .map((g) => `<option value="${escapeHtml(g)}">${escapeHtml(g)} (${metrics.filter((c) => groupOf(c.metric!) === g).length})</option>`)
    .join("")}</select></label>
<label>metric <input id="metric-filter" type="search" list="metric-names" placeholder="kl, actor/, val-core/test" size="28"></label>
<datalist id="metric-names">${metrics.map((c) => `<option value="${escapeHtml(c.metric!)}">`).join("")}</datalist>
<label>smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"> <output id="smoothing-value">0.60</output></label>
<span id="metric-count"></span>
</div>`
}

/**
 * Draws every chart from the embedded JSON; sets `data-charts-ready` on <body> when done. The
 * per-metric charts get TensorBoard's smoothing (a debiased exponential moving average with weight
 * `smoothing`; the raw mean stays as a faint line) and a picker that hides the charts whose metric
 * matches neither the chosen group nor any comma-separated word of the filter.
 */
const pageScript = `
(function () {
  var data = JSON.parse(document.getElementById("duet-data").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  function smooth(points, w) {
    var last = 0, n = 0;
    return points.map(function (p) {
      if (!isFinite(p.y)) return p;
      last = last * w + (1 - w) * p.y; n++;
      return { x: p.x, y: w === 0 ? p.y : last / (1 - Math.pow(w, n)) };
    });
  }
  function draw(spec, w) {
    var series = spec.series.slice();
    var means = series.filter(function (s) { return s.kind === "mean"; }).length;
    var metric = spec.metric !== undefined;
    var datasets = series.map(function (s) {
      var mean = s.kind === "mean";
      return {
        label: s.label,
        data: metric ? smooth(s.points, w) : s.points,
        parsing: false,
        borderColor: mean ? s.color : s.color + "59",
        backgroundColor: s.color,
        borderWidth: mean ? 2.5 : 1,
        pointRadius: mean && s.points.length <= 30 ? 3 : 0,
        pointHoverRadius: 4,
        tension: 0,
        // let a line lying on a fixed axis bound (0% or 100%) show whole instead of half
        clip: 4,
        order: mean ? 0 : 1
      };
    });
    if (metric) {
      series.forEach(function (s) {
        if (s.kind === "mean") datasets.push({ label: s.label + " (raw)", data: s.points, parsing: false, borderColor: s.color + "33", borderWidth: 1, pointRadius: 0, tension: 0, order: 2, hidden: w === 0 });
      });
    }
    var y = { title: { display: true, text: spec.yLabel } };
    if (spec.yRange) { y.min = spec.yRange[0]; y.max = spec.yRange[1]; }
    var chart = new Chart(document.getElementById("chart-" + spec.id), {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: { type: "linear", title: { display: true, text: spec.xLabel } }, y: y },
        plugins: {
          title: { display: true, text: spec.title },
          legend: { labels: { filter: function (item) { return item.datasetIndex < means; } } }
        }
      }
    });
    return { spec: spec, chart: chart };
  }
  data.charts.forEach(function (spec) { draw(spec, 0); });
  var slider = document.getElementById("smoothing");
  var drawn = data.metrics.map(function (spec) { return draw(spec, slider ? Number(slider.value) : 0); });
  function resmooth() {
    var w = Number(slider.value);
    document.getElementById("smoothing-value").textContent = w.toFixed(2);
    drawn.forEach(function (d) {
      d.spec.series.forEach(function (s, i) { d.chart.data.datasets[i].data = smooth(s.points, w); });
      d.chart.data.datasets.forEach(function (ds, i) { if (i >= d.spec.series.length) ds.hidden = w === 0; });
      d.chart.update("none");
    });
  }
  function pick() {
    var group = document.getElementById("metric-group").value;
    var words = document.getElementById("metric-filter").value.toLowerCase().split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    var shown = 0;
    drawn.forEach(function (d) {
      var m = d.spec.metric, g = m.indexOf("/") >= 0 ? m.slice(0, m.indexOf("/")) : "(other)";
      var ok = (group === "" || g === group) && (words.length === 0 || words.some(function (t) { return m.toLowerCase().indexOf(t) >= 0; }));
      document.getElementById("figure-" + d.spec.id).hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById("metric-count").textContent = shown + " of " + drawn.length + " metrics";
    document.body.setAttribute("data-metrics-shown", String(shown));
  }
  if (slider) {
    slider.addEventListener("input", resmooth);
    document.getElementById("metric-group").addEventListener("change", pick);
    document.getElementById("metric-filter").addEventListener("input", pick);
    pick();
  }
  document.body.setAttribute("data-charts-ready", String(data.charts.length + data.metrics.length));
})();
`

const style = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; max-width: 1500px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; min-width: 4em; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.delta td { font-weight: 600; background: #f4f6fa; }
.notes { color: #555; font-size: 0.85em; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(440px, 100%), 1fr)); gap: 16px; }
.charts.metrics { grid-template-columns: repeat(auto-fill, minmax(min(360px, 100%), 1fr)); }
.chart[hidden] { display: none; }
.toolbar { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; margin: 8px 0 14px; font-size: 0.9em; }
.toolbar input[type=search] { max-width: 60vw; }
.chart { margin: 0; border: 1px solid #eee; border-radius: 6px; padding: 8px; background: #fff; }
.canvas-box { position: relative; height: 300px; }
details.recipe { margin: 6px 0; } details.recipe summary { cursor: pointer; font-weight: 600; }
pre { background: #f7f7f7; padding: 10px; overflow-x: auto; font-size: 0.85em; }
`

export interface RenderOptions {
  /** Page title (default: "duet report"). */
  readonly title?: string
}

/** The whole report page. */
export const render = (runs: ReadonlyArray<Run>, table: Table.Table, options: RenderOptions = {}): Effect.Effect<string, ReportError> =>
  Effect.map(chartJsSource(), (library) => {
    const charts = Charts.specs(runs)
    const metrics = Charts.metricSpecs(runs)
    const title = options.title ?? "duet report"
    const order = table.rows.map((r) => r.method)
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${runs.length} run(s), ${order.length} method(s): ${order.map(escapeHtml).join(", ")}.</p>
<h2>Results</h2>
${tableHtml(table)}
<h2>Curves</h2>
<div class="charts">
${chartsHtml(charts)}
</div>
<h2>All metrics</h2>
<p>Every scalar the runs logged (${metrics.length}), against the step; the same names as the run's TensorBoard files.</p>
${metricsToolbar(metrics)}
<div class="charts metrics">
${chartsHtml(metrics)}
</div>
<h2>Recipes</h2>
${recipesHtml(runs, order)}
<h2>Runs</h2>
${runsHtml(runs)}
<script type="application/json" id="duet-data">${scriptJson({ charts, metrics })}</script>
<script>${library}</script>
<script>${pageScript}</script>
</body>
</html>
`
  })
