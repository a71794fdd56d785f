/**
 * The report in a real headless browser (Debian's chromium driven by playwright-core): the page
 * loads from file:// with no console errors, page errors or network requests, every chart drew
 * its lines, and the table is there. Without /usr/bin/chromium the suite is skipped, except under
 * CI=true, where it fails (CI installs chromium).
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Browser, Charts, Report, Runs } from "../src/index.js"
import { comparison, tempDir } from "./Fixture.js"

const chromium = Browser.executablePath()
const ci = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
if (chromium === undefined && !ci) {
  console.warn("report browser test SKIPPED: no chromium at /usr/bin/chromium (apt-get install chromium) and DUET_CHROMIUM is not set")
}

describe.skipIf(chromium === undefined && !ci)("report in headless chromium", () => {
  it("chromium is installed (required under CI)", () => {
    expect(chromium, "CI=true but no chromium: apt-get install chromium, or set DUET_CHROMIUM").toBeDefined()
  })

  it("2 methods x 2 seeds: loads offline without errors, every chart draws its lines, the table has 2 rows + delta", async () => {
    const dir = comparison()
    const written = await Effect.runPromise(Report.write(dir))
    const page = await Effect.runPromise(Browser.inspect(written.files.html))
    expect(page.consoleErrors).toEqual([])
    expect(page.pageErrors).toEqual([])
    expect(page.requests).toEqual([])
    const metricSpecs = Charts.metricSpecs(await Effect.runPromise(Runs.load(dir)))
    const metrics = metricSpecs.map((c) => c.id)
    expect(metrics.length).toBeGreaterThan(15)
    // A metric logged once per run (here sft/*) is a dot per method, not a line.
    const dots = new Set(metricSpecs.filter((c) => c.series.every((s) => s.points.length === 1)).map((c) => `chart-${c.id}`))
    expect(page.chartsReady).toBe(10 + metrics.length)
    expect(page.charts.map((c) => c.id)).toEqual([
      "chart-reward-step", "chart-reward-rollouts", "chart-reward-time",
      "chart-test-step", "chart-test-rollouts", "chart-test-time",
      "chart-ood-step", "chart-ood-rollouts", "chart-ood-time",
      "chart-zero-std-step",
      ...metrics.map((id) => `chart-${id}`)
    ])
    for (const c of page.charts) {
      expect(c.width, c.id).toBeGreaterThan(300)
      expect(c.points, c.id).toBeGreaterThan(0)
      // two 2.5 px mean lines across a plot area ~400 px wide leave thousands of coloured pixels;
      // 200 is far below that and far above zero (see the control below: 0 without data)
      expect(c.coloredPixels, c.id).toBeGreaterThan(dots.has(c.id) ? 5 : 200)
    }
    expect(page.tableRows).toBe(3)
    // Responsive at the default 1400 px window: the page never scrolls sideways.
    expect(page.layout.scrollWidth).toBeLessThanOrEqual(page.layout.innerWidth)

    // Control: the same page with every line emptied and a throwing script must be caught.
    const broken = join(dir, "broken.html")
    writeFileSync(
      broken,
      readFileSync(written.files.html, "utf8")
        .replace(/"points":\[[^\]]*\]/g, '"points":[]')
        .replace("</body>", "<script>throw new Error(\"boom\")</script>\n</body>")
    )
    const control = await Effect.runPromise(Browser.inspect(broken))
    expect(control.pageErrors.join("\n")).toMatch(/boom/)
    expect(control.charts).toHaveLength(10 + metrics.length)
    for (const c of control.charts) expect(c.coloredPixels, c.id).toBe(0)
    rmSync(dir, { recursive: true })
  })

  it("Report.snapshot writes a PNG per chart and one of the whole page", async () => {
    const dir = comparison()
    const written = await Effect.runPromise(Report.write(dir))
    const out = process.env.DUET_REPORT_SNAPSHOT_DIR ?? tempDir("duet-report-png-")
    const shot = await Effect.runPromise(Report.snapshot(written.files.html, out))
    expect("files" in shot).toBe(true)
    const files = "files" in shot ? shot.files : []
    const metrics = Charts.metricSpecs(await Effect.runPromise(Runs.load(dir))).map((c) => `${c.id}.png`)
    expect(files.map((f) => f.slice(out.length + 1))).toEqual([
      "reward-step.png", "reward-rollouts.png", "reward-time.png",
      "test-step.png", "test-rollouts.png", "test-time.png",
      "ood-step.png", "ood-rollouts.png", "ood-time.png",
      "zero-std-step.png", ...metrics, "report.png"
    ])
    for (const f of files) {
      const png = readFileSync(f)
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG")
      expect(png.length).toBeGreaterThan(5_000)
    }
    rmSync(dir, { recursive: true })
    if (process.env.DUET_REPORT_SNAPSHOT_DIR === undefined) rmSync(out, { recursive: true })
  })

  it("responsive: at a 700 px window the page never scrolls sideways either (wide tables scroll in their box)", async () => {
    const dir = comparison()
    const written = await Effect.runPromise(Report.write(dir))
    for (const width of [700]) {
      const page = await Effect.runPromise(Browser.inspect(written.files.html, { width, height: 900 }))
      expect(page.layout.innerWidth).toBe(width)
      expect(page.layout.scrollWidth, `page width at a ${width} px window`).toBeLessThanOrEqual(width)
      expect(page.pageErrors).toEqual([])
    }
    rmSync(dir, { recursive: true })
  })

  it("the metric picker hides charts by group and by filter words; the smoothing slider smooths the lines", async () => {
    const dir = comparison()
    const written = await Effect.runPromise(Report.write(dir))
    const total = Charts.metricSpecs(await Effect.runPromise(Runs.load(dir))).length
    const state = (await Effect.runPromise(
      Browser.evaluate(
        written.files.html,
        `(() => {
          const shown = () => Number(document.body.getAttribute("data-metrics-shown"));
          const set = (id, value, event) => { const el = document.getElementById(id); el.value = value; el.dispatchEvent(new Event(event)); };
          const out = { all: shown() };
          set("metric-group", "actor", "change"); out.actor = shown();
          out.actorNames = Array.from(document.querySelectorAll("figure.metric:not([hidden])")).map((f) => f.dataset.metric);
          set("metric-group", "", "change"); set("metric-filter", "grad_norm, val-core/ood/meanatn", "input"); out.filtered = shown();
          const chart = Chart.getChart(document.getElementById("${"chart-" + Charts.metricId("critic/rewards/mean")}"));
          const ys = () => chart.data.datasets[0].data.map((p) => p.y);
          set("smoothing", "0", "input"); out.raw = ys();
          set("smoothing", "0.9", "input"); out.smoothed = ys(); out.label = document.getElementById("smoothing-value").textContent;
          return out;
        })()`
      )
    )) as { all: number; actor: number; actorNames: string[]; filtered: number; raw: number[]; smoothed: number[]; label: string }
    expect(state.all).toBe(total)
    expect(state.actorNames).toEqual(["actor/grad_norm", "actor/pg_loss"])
    expect(state.actor).toBe(2)
    expect(state.filtered).toBe(2)
    // TensorBoard's debiased EMA: the first point is unchanged, later ones lag the raw line.
    expect(state.label).toBe("0.90")
    expect(state.smoothed[0]).toBeCloseTo(state.raw[0]!, 12)
    let last = 0
    const expected = state.raw.map((y, i) => ((last = last * 0.9 + 0.1 * y), last / (1 - 0.9 ** (i + 1))))
    state.smoothed.forEach((y, i) => expect(y).toBeCloseTo(expected[i]!, 9))
    expect(state.smoothed).not.toEqual(state.raw)
    rmSync(dir, { recursive: true })
  })
})
