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
    '<table id="duet-table">',
    `<thead>${row(header, "th")}</thead>`,
    `<tbody>${body.map((cs, i) => row(cs, "td", i === deltaAt ? ' class="delta"' : "")).join("\n")}</tbody>`,
    "</table>",
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
  return `<table id="duet-runs"><thead><tr><th>directory</th><th>method</th><th class="num">seed</th><th class="num">steps</th><th>status</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`
}

const chartsHtml = (charts: ReadonlyArray<ChartSpec>) =>
  charts.map((c) => `<figure class="chart" id="figure-${c.id}"><div class="canvas-box"><canvas id="chart-${c.id}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div></figure>`).join("\n")

/** Draws every chart from the embedded JSON; sets `data-charts-ready` on <body> when done. */
const pageScript = `
(function () {
  var data = JSON.parse(document.getElementById("duet-data").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  data.charts.forEach(function (spec) {
    var means = spec.series.filter(function (s) { return s.kind === "mean"; }).length;
    var y = { title: { display: true, text: spec.yLabel } };
    if (spec.yRange) { y.min = spec.yRange[0]; y.max = spec.yRange[1]; }
    new Chart(document.getElementById("chart-" + spec.id), {
      type: "line",
      data: {
        datasets: spec.series.map(function (s) {
          var mean = s.kind === "mean";
          return {
            label: s.label,
            data: s.points,
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
        })
      },
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
  });
  document.body.setAttribute("data-charts-ready", String(data.charts.length));
})();
`

const style = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; max-width: 1500px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.delta td { font-weight: 600; background: #f4f6fa; }
.notes { color: #555; font-size: 0.85em; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
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
<h2>Recipes</h2>
${recipesHtml(runs, order)}
<h2>Runs</h2>
${runsHtml(runs)}
<script type="application/json" id="duet-data">${scriptJson({ charts })}</script>
<script>${library}</script>
<script>${pageScript}</script>
</body>
</html>
`
  })
