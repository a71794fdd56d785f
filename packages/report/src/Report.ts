/**
 * `duet report DIR`: reads one run directory or a directory of them and writes `report.html`
 * (table, charts, recipes; opens offline), `table.md` and `table.csv` beside them (or into `out`),
 * returning the table as aligned text for the terminal. `snapshot` saves PNG images of the charts
 * through headless chromium, and reports why when it cannot.
 */
import { Effect } from "effect"
import { mkdir, writeFile } from "node:fs/promises"
import { basename, join, resolve } from "node:path"
import * as Browser from "./Browser.js"
import * as Html from "./Html.js"
import * as Runs from "./Runs.js"
import { ReportError } from "./Runs.js"
import * as Table from "./Table.js"

export interface WriteOptions {
  /** Directory for the outputs (default: the report directory itself). */
  readonly out?: string
  /** Target test Mean@n in [0, 1] for the time-to-accuracy columns. */
  readonly target?: number
  /** Methods of the delta row, from -> to (default: largest group -> smallest). */
  readonly delta?: readonly [string, string]
}

export interface Written {
  readonly table: Table.Table
  /** The table as aligned text (what the CLI prints). */
  readonly text: string
  readonly files: { readonly html: string; readonly markdown: string; readonly csv: string }
}

const put = (path: string, text: string) =>
  Effect.tryPromise({
    try: () => writeFile(path, text),
    catch: (e) => new ReportError({ message: `${path}: cannot write (${e instanceof Error ? e.message : String(e)})` })
  })

/** Loads the runs under `dir` and writes report.html, table.md and table.csv. */
export const write = (dir: string, options: WriteOptions = {}): Effect.Effect<Written, ReportError> =>
  Effect.gen(function* () {
    const runs = yield* Runs.load(dir)
    const table = yield* Table.rows(runs, {
      ...(options.target !== undefined ? { target: options.target } : {}),
      ...(options.delta !== undefined ? { delta: options.delta } : {})
    })
    const out = options.out ?? dir
    yield* Effect.tryPromise({
      try: () => mkdir(out, { recursive: true }),
      catch: (e) => new ReportError({ message: `${out}: cannot create (${e instanceof Error ? e.message : String(e)})` })
    })
    const html = yield* Html.render(runs, table, { title: `duet report: ${basename(resolve(dir))}` })
    const files = { html: join(out, "report.html"), markdown: join(out, "table.md"), csv: join(out, "table.csv") }
    yield* put(files.html, html)
    yield* put(files.markdown, Table.markdown(table))
    yield* put(files.csv, Table.csv(table))
    return { table, text: Table.text(table), files }
  })

export type Snapshot = { readonly files: ReadonlyArray<string> } | { readonly skipped: string }

/**
 * PNG images of a rendered report: `report.png` (whole page) and one `<chart-id>.png` per chart in
 * `outDir`. Without a chromium binary or playwright-core it writes nothing and says why.
 */
export const snapshot = (htmlPath: string, outDir: string): Effect.Effect<Snapshot, ReportError> =>
  Effect.gen(function* () {
    if (Browser.executablePath() === undefined) {
      return { skipped: "no chromium at /usr/bin/chromium (apt-get install chromium) and DUET_CHROMIUM is not set" }
    }
    const available = yield* Effect.tryPromise({ try: () => import("playwright-core"), catch: () => undefined }).pipe(
      Effect.as(true),
      Effect.catch(() => Effect.succeed(false))
    )
    if (!available) return { skipped: "playwright-core is not installed (npm install playwright-core)" }
    return { files: yield* Browser.screenshots(htmlPath, outDir) }
  })
