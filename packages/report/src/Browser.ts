/**
 * Opening a report in a real headless browser: Debian's chromium (`/usr/bin/chromium`, or
 * `DUET_CHROMIUM`) driven by playwright-core, which never downloads a browser of its own. Used to
 * check that a page loads without errors and that its charts drew their lines, and to save PNG
 * images of the charts (`duet report --png`). playwright-core (a dependency: no browser download) is
 * loaded on demand, so writing a report needs neither it nor a browser.
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { ReportError } from "./Runs.js"

/** The chromium binary to drive: `$DUET_CHROMIUM`, else /usr/bin/chromium if present. */
export const executablePath = (): string | undefined => {
  const fromEnv = process.env.DUET_CHROMIUM
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  return existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined
}

/** Offline, quiet, sandbox-free (containers) headless chromium. */
export const flags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export interface ChartCheck {
  readonly id: string
  /** Canvas size in device pixels. */
  readonly width: number
  readonly height: number
  /** Data points handed to Chart.js. */
  readonly points: number
  /**
   * Saturated pixels (max - min channel > 60, alpha > 0) inside the plot area: the data lines.
   * Axes, grid and labels are grey and do not count, nor does the legend (outside the plot area).
   */
  readonly coloredPixels: number
}

export interface Inspection {
  readonly consoleErrors: ReadonlyArray<string>
  readonly pageErrors: ReadonlyArray<string>
  /** Requests for anything other than the file itself (a report must need none). */
  readonly requests: ReadonlyArray<string>
  /** `data-charts-ready` of <body>: the number of charts the page script drew (-1 if it never finished). */
  readonly chartsReady: number
  readonly charts: ReadonlyArray<ChartCheck>
  /** Body rows of the results table (methods plus the delta row). */
  readonly tableRows: number
  /** The page's width against the window's: a responsive page never scrolls sideways. */
  readonly layout: { readonly scrollWidth: number; readonly innerWidth: number }
}

// Runs in the page (a string, so this package's TypeScript needs no DOM types).
const measureCharts = `(() => Array.from(document.querySelectorAll("canvas")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  if (!chart) return { id: canvas.id, width: canvas.width, height: canvas.height, points: 0, coloredPixels: 0 };
  const r = chart.currentDevicePixelRatio || 1;
  const a = chart.chartArea;
  const x0 = Math.ceil(a.left * r) + 1, y0 = Math.ceil(a.top * r) + 1;
  const w = Math.max(0, Math.floor((a.right - a.left) * r) - 2), h = Math.max(0, Math.floor((a.bottom - a.top) * r) - 2);
  let colored = 0;
  if (w > 0 && h > 0) {
    const px = canvas.getContext("2d").getImageData(x0, y0, w, h).data;
    for (let i = 0; i < px.length; i += 4) {
      const hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
      if (px[i + 3] > 0 && hi - lo > 60) colored++;
    }
  }
  const points = chart.data.datasets.reduce((n, d) => n + d.data.length, 0);
  return { id: canvas.id, width: canvas.width, height: canvas.height, points, coloredPixels: colored };
}))()`

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

type Playwright = typeof import("playwright-core")
type Page = Awaited<ReturnType<Awaited<ReturnType<Playwright["chromium"]["launchPersistentContext"]>>["newPage"]>>

const loadPlaywright = Effect.tryPromise({
  try: () => import("playwright-core") as Promise<Playwright>,
  catch: (e) => new ReportError({ message: `playwright-core is not installed (npm install playwright-core): ${message(e)}` })
})

/**
 * Opens `htmlPath` (file://) in a fresh chromium profile, runs `f` on the page, and closes the
 * browser and removes the profile whatever happens. Fails if no chromium is found.
 */
const withPage = <A>(
  htmlPath: string,
  f: (page: Page, log: { console: string[]; errors: string[]; requests: string[] }) => Promise<A>,
  viewport: { readonly width: number; readonly height: number } = { width: 1400, height: 1000 }
) =>
  Effect.gen(function* () {
    const executable = executablePath()
    if (executable === undefined) {
      return yield* new ReportError({ message: "chromium not found: install Debian's chromium (apt-get install chromium) or set DUET_CHROMIUM" })
    }
    const { chromium } = yield* loadPlaywright
    const profile = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => mkdtemp(join(tmpdir(), "duet-chromium-")), catch: (e) => new ReportError({ message: `profile: ${message(e)}` }) }),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
    )
    const context = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          chromium.launchPersistentContext(profile, {
            executablePath: executable,
            headless: true,
            args: flags,
            viewport: { ...viewport },
            deviceScaleFactor: 1,
            offline: true
          }),
        catch: (e) => new ReportError({ message: `chromium (${executable}) failed to start: ${message(e)}` })
      }),
      (ctx) => Effect.promise(() => ctx.close().catch(() => undefined))
    )
    return yield* Effect.tryPromise({
      try: async () => {
        const page = await context.newPage()
        const log = { console: [] as string[], errors: [] as string[], requests: [] as string[] }
        page.on("console", (m) => {
          if (m.type() === "error") log.console.push(m.text())
        })
        page.on("pageerror", (e) => log.errors.push(e.message))
        page.on("request", (r) => {
          if (!r.url().startsWith("file:")) log.requests.push(r.url())
        })
        await page.goto(pathToFileURL(resolve(htmlPath)).href, { waitUntil: "load" })
        return f(page, log)
      },
      catch: (e) => new ReportError({ message: `${htmlPath}: ${message(e)}` })
    })
  }).pipe(Effect.scoped)

/** Loads the report and measures it (at `viewport`, default 1400 x 1000): errors, network requests, what each chart drew, the layout. */
export const inspect = (htmlPath: string, viewport?: { readonly width: number; readonly height: number }): Effect.Effect<Inspection, ReportError> =>
  withPage(htmlPath, async (page, log) => {
    // Charts draw synchronously on load (animation off); wait for the flag all the same.
    await page.waitForSelector("body[data-charts-ready]", { timeout: 10_000 }).catch(() => undefined)
    const ready = Number((await page.getAttribute("body", "data-charts-ready")) ?? -1)
    const charts = (await page.evaluate(measureCharts)) as ChartCheck[]
    const tableRows = await page.locator("#duet-table tbody tr").count()
    const layout = (await page.evaluate("({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })")) as Inspection["layout"]
    return { consoleErrors: log.console, pageErrors: log.errors, requests: log.requests, chartsReady: ready, charts, tableRows, layout }
  }, viewport)

/**
 * Loads the report, waits for its charts, runs `script` (an expression, evaluated in the page; it may
 * return a promise) and returns its value: for tests that use the page's controls.
 */
export const evaluate = (htmlPath: string, script: string): Effect.Effect<unknown, ReportError> =>
  withPage(htmlPath, async (page) => {
    await page.waitForSelector("body[data-charts-ready]", { timeout: 10_000 })
    return page.evaluate(script)
  })

/** Saves `report.png` (the whole page) and `<chart-id>.png` for each chart into `outDir`. */
export const screenshots = (htmlPath: string, outDir: string): Effect.Effect<string[], ReportError> =>
  Effect.flatMap(
    Effect.tryPromise({ try: () => mkdir(outDir, { recursive: true }), catch: (e) => new ReportError({ message: `${outDir}: ${message(e)}` }) }),
    () =>
      withPage(htmlPath, async (page) => {
        await page.waitForSelector("body[data-charts-ready]", { timeout: 10_000 })
        const files: string[] = []
        const figures = page.locator("figure.chart:not([hidden])")
        for (let i = 0; i < (await figures.count()); i++) {
          const figure = figures.nth(i)
          const id = ((await figure.getAttribute("id")) ?? `chart-${i}`).replace(/^figure-/, "")
          const file = join(outDir, `${id}.png`)
          await figure.screenshot({ path: file })
          files.push(file)
        }
        const page_ = join(outDir, "report.png")
        await page.screenshot({ path: page_, fullPage: true })
        files.push(page_)
        return files
      })
  )
