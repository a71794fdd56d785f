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
import { Browser, Report } from "../src/index.js"
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
    expect(page.chartsReady).toBe(10)
    expect(page.charts.map((c) => c.id)).toEqual([
      "chart-reward-step", "chart-reward-rollouts", "chart-reward-time",
      "chart-test-step", "chart-test-rollouts", "chart-test-time",
      "chart-ood-step", "chart-ood-rollouts", "chart-ood-time",
      "chart-zero-std-step"
    ])
    for (const c of page.charts) {
      expect(c.width, c.id).toBeGreaterThan(300)
      expect(c.points, c.id).toBeGreaterThan(0)
      // two 2.5 px mean lines across a plot area ~400 px wide leave thousands of coloured pixels;
      // 200 is far below that and far above zero (see the control below: 0 without data)
      expect(c.coloredPixels, c.id).toBeGreaterThan(200)
    }
    expect(page.tableRows).toBe(3)

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
    expect(control.charts).toHaveLength(10)
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
    expect(files.map((f) => f.slice(out.length + 1))).toEqual([
      "reward-step.png", "reward-rollouts.png", "reward-time.png",
      "test-step.png", "test-rollouts.png", "test-time.png",
      "ood-step.png", "ood-rollouts.png", "ood-time.png",
      "zero-std-step.png", "report.png"
    ])
    for (const f of files) {
      const png = readFileSync(f)
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG")
      expect(png.length).toBeGreaterThan(5_000)
    }
    rmSync(dir, { recursive: true })
    if (process.env.DUET_REPORT_SNAPSHOT_DIR === undefined) rmSync(out, { recursive: true })
  })
})
