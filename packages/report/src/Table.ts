/**
 * The comparison table of a report, one row per method (runs grouped by recipe name, seeds as
 * repeats): wall time, rollouts and tokens, held-out Mean@n / Pass@n after training on the test
 * and out-of-distribution splits (mean and sample standard deviation over seeds), time to a target
 * accuracy, and a delta row between two methods (by default the largest group size against the
 * smallest, e.g. 16-GRPO -> 2-GRPO, the comparison of the paper's Table 1). Rendered as aligned
 * text (terminal), Markdown and CSV.
 */
import { Effect } from "effect"
import { ReportError, finalEvals, totals } from "./Runs.js"
import type { Run } from "./Runs.js"

/** Mean and sample standard deviation (divisor n - 1) over seeds; `std` is undefined for one value. */
export interface Stat {
  readonly mean: number
  readonly std: number | undefined
  readonly count: number
}

export const stat = (values: ReadonlyArray<number>): Stat | undefined => {
  if (values.length === 0) return undefined
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  if (values.length === 1) return { mean, std: undefined, count: 1 }
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)
  return { mean, std: Math.sqrt(variance), count: values.length }
}

export interface Accuracy {
  /** Samples per problem (n of Mean@n); undefined when no run of the method has this split. */
  readonly n: number | undefined
  readonly meanAtN: Stat | undefined
  readonly passAtN: Stat | undefined
}

/** Where a method first reached the target (over the seeds that reached it). */
export interface TimeToTarget {
  readonly reached: number
  readonly seeds: number
  readonly seconds: Stat | undefined
  readonly rollouts: Stat | undefined
  /** Test Pass@n of the evaluation that reached the target. */
  readonly passAtN: Stat | undefined
}

export interface MethodRow {
  readonly method: string
  readonly groupSize: number | undefined
  readonly seeds: ReadonlyArray<number>
  readonly steps: Stat
  /** Whole-run wall time: summary.json `seconds.total` (last RL record's clock for unfinished runs). */
  readonly seconds: Stat
  readonly rollouts: Stat
  readonly tokens: Stat
  readonly test: Accuracy
  readonly ood: Accuracy
  readonly timeToTarget: TimeToTarget | undefined
}

export interface Target {
  /** Test Mean@n in [0, 1]; a method "reaches" it at its first evaluation with Mean@n >= value - tolerance. */
  readonly value: number
  readonly tolerance: number
  /** How the value was chosen, for the reader. */
  readonly source: string
}

/** From-method and to-method means of one quantity. */
export interface Change {
  readonly from: number
  readonly to: number
}

export interface Delta {
  readonly from: string
  readonly to: string
  readonly seconds: Change
  readonly rollouts: Change
  readonly tokens: Change
  readonly testMeanAtN: Change | undefined
  readonly testPassAtN: Change | undefined
  readonly oodMeanAtN: Change | undefined
  readonly oodPassAtN: Change | undefined
  /** Only when every seed of both methods reached the target. */
  readonly timeToTargetSeconds: Change | undefined
  readonly timeToTargetRollouts: Change | undefined
}

export interface Table {
  readonly rows: ReadonlyArray<MethodRow>
  readonly target: Target | undefined
  readonly delta: Delta | undefined
}

export interface Options {
  /** Target test Mean@n in [0, 1] (default: the final test Mean@n of the method with the largest group). */
  readonly target?: number
  /** Methods of the delta row (default: largest group size -> smallest). */
  readonly delta?: readonly [from: string, to: string]
}

/** "Reaches the target" means within one accuracy point of it (the issue's definition). */
export const tolerance = 0.01
// Accuracies are ratios of small counts; 1e-9 absorbs the round-off of `target - tolerance` (0.1 - 0.01 = 0.09000000000000001 > 0.09).
const roundOff = 1e-9

/** The first "during"/"after" test evaluation of `run` with Mean@n >= target - tolerance. */
export const firstReaching = (run: Run, target: number) =>
  run.evals.find((e) => e.split === "test" && e.phase !== "before" && e.meanAtN >= target - tolerance - roundOff)

const accuracy = (runs: ReadonlyArray<Run>, split: string): Accuracy => {
  const results = runs.flatMap((r) => finalEvals(r).filter((e) => e.split === split))
  const ns = new Set(results.map((e) => e.n))
  return {
    n: ns.size === 1 ? [...ns][0] : undefined,
    meanAtN: stat(results.map((e) => e.meanAtN)),
    passAtN: stat(results.map((e) => e.passAtN))
  }
}

const byGroupThenName = (a: MethodRow, b: MethodRow) =>
  (b.groupSize ?? -1) - (a.groupSize ?? -1) || a.method.localeCompare(b.method)

/** Builds the table: one row per method, the target, the delta row. */
export const rows = (runs: ReadonlyArray<Run>, options: Options = {}): Effect.Effect<Table, ReportError> =>
  Effect.gen(function* () {
    if (runs.length === 0) return yield* new ReportError({ message: "no runs to tabulate" })
    if (options.target !== undefined && !(options.target >= 0 && options.target <= 1)) {
      return yield* new ReportError({ message: `target must be a test Mean@n in [0, 1] (e.g. 0.62 for 62%), got ${options.target}` })
    }
    const methods = new Map<string, Run[]>()
    for (const run of runs) methods.set(run.method, [...(methods.get(run.method) ?? []), run])

    const base = [...methods].map(([method, group]): MethodRow => {
      const seeds = group.map((r) => r.seed).sort((a, b) => a - b)
      const t = group.map(totals)
      const sizes = new Set(group.map((r) => r.groupSize))
      return {
        method,
        groupSize: sizes.size === 1 ? [...sizes][0] : undefined,
        seeds,
        steps: stat(t.map((x) => x.steps))!,
        seconds: stat(t.map((x) => x.seconds))!,
        rollouts: stat(t.map((x) => x.rollouts))!,
        tokens: stat(t.map((x) => x.tokens))!,
        test: accuracy(group, "test"),
        ood: accuracy(group, "ood"),
        timeToTarget: undefined
      }
    })
    base.sort(byGroupThenName)

    let target: Target | undefined
    if (options.target !== undefined) target = { value: options.target, tolerance, source: "--target" }
    else {
      const reference = base[0]!
      const mean = reference.test.meanAtN?.mean
      if (mean !== undefined) {
        const n = reference.test.n === undefined ? "n" : String(reference.test.n)
        target = { value: mean, tolerance, source: `final test Mean@${n} of ${reference.method}` }
      }
    }

    const table = base.map((row): MethodRow => {
      if (target === undefined) return row
      const hits = methods.get(row.method)!.flatMap((run) => {
        const e = firstReaching(run, target.value)
        return e ? [e] : []
      })
      return {
        ...row,
        timeToTarget: {
          reached: hits.length,
          seeds: row.seeds.length,
          seconds: stat(hits.map((e) => e.seconds)),
          rollouts: stat(hits.map((e) => e.rollouts)),
          passAtN: stat(hits.map((e) => e.passAtN))
        }
      }
    })

    let delta: Delta | undefined
    const pick = (name: string) => table.find((r) => r.method === name)
    let pair: [MethodRow, MethodRow] | undefined
    if (options.delta) {
      const [from, to] = options.delta.map(pick)
      if (!from || !to) {
        const missing = options.delta.filter((n) => !pick(n))
        return yield* new ReportError({
          message: `delta: no method named ${missing.map((m) => JSON.stringify(m)).join(", ")}; methods: ${table.map((r) => r.method).join(", ")}`
        })
      }
      pair = [from, to]
    } else if (table.length >= 2) pair = [table[0]!, table[table.length - 1]!]
    if (pair) {
      const [from, to] = pair
      const change = (f: (r: MethodRow) => Stat | undefined): Change | undefined => {
        const a = f(from)
        const b = f(to)
        return a && b ? { from: a.mean, to: b.mean } : undefined
      }
      const allReached = (r: MethodRow) => r.timeToTarget !== undefined && r.timeToTarget.reached === r.timeToTarget.seeds
      const both = allReached(from) && allReached(to)
      delta = {
        from: from.method,
        to: to.method,
        seconds: change((r) => r.seconds)!,
        rollouts: change((r) => r.rollouts)!,
        tokens: change((r) => r.tokens)!,
        testMeanAtN: change((r) => r.test.meanAtN),
        testPassAtN: change((r) => r.test.passAtN),
        oodMeanAtN: change((r) => r.ood.meanAtN),
        oodPassAtN: change((r) => r.ood.passAtN),
        timeToTargetSeconds: both ? change((r) => r.timeToTarget?.seconds) : undefined,
        timeToTargetRollouts: both ? change((r) => r.timeToTarget?.rollouts) : undefined
      }
    }
    return { rows: table, target, delta }
  })

// ---- formatting -----------------------------------------------------------------------------

const dash = "—"

/** A number format whose precision follows the mean, so "141 ± 0" and not "141 ± 0.00". */
type Format = (x: number, like?: number) => string
const fmtSeconds: Format = (s, like = s) => {
  const a = Math.abs(like)
  return s.toFixed(a < 10 ? 2 : a < 100 ? 1 : 0)
}
const fmtCount: Format = (x) => Math.round(x).toLocaleString("en-US")
const fmtPercent: Format = (x) => (100 * x).toFixed(1)

const withSpread = (s: Stat | undefined, f: Format) =>
  s === undefined ? dash : `${f(s.mean)}${s.std === undefined ? "" : ` ± ${f(s.std, s.mean)}`}`

const relative = (c: Change | undefined) => {
  if (c === undefined || c.from === 0) return dash
  const r = (c.to - c.from) / c.from
  return `${r >= 0 ? "+" : "−"}${Math.abs(100 * r).toFixed(1)}%`
}
const points = (c: Change | undefined) => {
  if (c === undefined) return dash
  const d = 100 * (c.to - c.from)
  return `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)} pt`
}

const nOf = (rows: ReadonlyArray<MethodRow>, pick: (r: MethodRow) => number | undefined) => {
  const ns = new Set(rows.map(pick).filter((n) => n !== undefined))
  return ns.size === 1 ? String([...ns][0]) : "n"
}

const hasOod = (t: Table) => t.rows.some((r) => r.ood.meanAtN !== undefined)

/** Header and cells shared by the text, Markdown and HTML renderings. */
export const cells = (t: Table): { header: string[]; body: string[][] } => {
  const nt = nOf(t.rows, (r) => r.test.n)
  const no = nOf(t.rows, (r) => r.ood.n)
  const ood = hasOod(t)
  const header = [
    "method",
    "G",
    "seeds",
    "wall time (s)",
    "rollouts",
    "tokens",
    `test Mean@${nt} (%)`,
    `test Pass@${nt} (%)`,
    ...(ood ? [`ood Mean@${no} (%)`, `ood Pass@${no} (%)`] : []),
    "time to target (s)",
    "rollouts to target",
    `Pass@${nt} at target (%)`
  ]
  const ttt = (r: MethodRow, pick: (x: TimeToTarget) => Stat | undefined, f: Format) => {
    const x = r.timeToTarget
    if (x === undefined) return dash
    if (x.reached === 0) return "not reached"
    return withSpread(pick(x), f) + (x.reached < x.seeds ? ` (${x.reached}/${x.seeds} seeds)` : "")
  }
  const body = t.rows.map((r) => [
    r.method,
    r.groupSize === undefined ? dash : String(r.groupSize),
    r.seeds.join(" "),
    withSpread(r.seconds, fmtSeconds),
    withSpread(r.rollouts, fmtCount),
    withSpread(r.tokens, fmtCount),
    withSpread(r.test.meanAtN, fmtPercent),
    withSpread(r.test.passAtN, fmtPercent),
    ...(ood ? [withSpread(r.ood.meanAtN, fmtPercent), withSpread(r.ood.passAtN, fmtPercent)] : []),
    ttt(r, (x) => x.seconds, fmtSeconds),
    ttt(r, (x) => x.rollouts, fmtCount),
    ttt(r, (x) => x.passAtN, fmtPercent)
  ])
  if (t.delta) {
    const d = t.delta
    body.push([
      `Δ ${d.from} → ${d.to}`,
      "",
      "",
      relative(d.seconds),
      relative(d.rollouts),
      relative(d.tokens),
      points(d.testMeanAtN),
      points(d.testPassAtN),
      ...(ood ? [points(d.oodMeanAtN), points(d.oodPassAtN)] : []),
      relative(d.timeToTargetSeconds),
      relative(d.timeToTargetRollouts),
      ""
    ])
  }
  return { header, body }
}

/** The lines under the table: what the numbers mean. */
export const notes = (t: Table): string[] => [
  "mean ± sample std (n−1) over seeds; accuracies after training, in %.",
  t.target
    ? `target: test Mean@n ${fmtPercent(t.target.value)}% (${t.target.source}); reached at the first held-out evaluation within ${fmtPercent(t.target.tolerance)} point of it; time = trainer clock (SFT + RL + evaluations so far).`
    : "target: none (no final test evaluation to take it from; pass one with --target).",
  ...(t.delta
    ? [`Δ row: ${t.delta.to} relative to ${t.delta.from}: time, rollouts and tokens as % change, accuracies in percentage points.`]
    : [])
]

const pad = (s: string, w: number, right: boolean) => (right ? s.padStart(w) : s.padEnd(w))

/** Aligned plain text for the terminal. */
export const text = (t: Table): string => {
  const { header, body } = cells(t)
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((row) => row[j]!.length)))
  const line = (row: string[]) => row.map((c, j) => pad(c, widths[j]!, j > 0)).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line), "", ...notes(t)].join("\n")
}

const mdEscape = (s: string) => s.replace(/\|/g, "\\|")

/** A GitHub-flavoured Markdown table plus its notes. */
export const markdown = (t: Table): string => {
  const { header, body } = cells(t)
  const row = (cs: string[]) => `| ${cs.map(mdEscape).join(" | ")} |`
  return [row(header), `|${header.map((_, j) => (j === 0 ? " --- " : " ---: ")).join("|")}|`, ...body.map(row), "", ...notes(t).map((n) => `- ${n}`), ""].join("\n")
}

const csvField = (x: string | number | undefined) => {
  if (x === undefined) return ""
  const s = typeof x === "number" ? String(x) : x
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/**
 * CSV with raw numbers (accuracies as fractions in [0, 1], times in seconds): a `mean` and a `std`
 * column per quantity. The delta row (`row` = "delta") holds to-minus-from differences of the means.
 */
export const csv = (t: Table): string => {
  const quantities = ["wall_s", "rollouts", "tokens", "test_mean_at_n", "test_pass_at_n", "ood_mean_at_n", "ood_pass_at_n", "ttt_s", "ttt_rollouts", "ttt_pass_at_n"]
  const header = ["row", "method", "group_size", "seeds", "steps", "test_n", "ood_n", ...quantities.flatMap((q) => [`${q}_mean`, `${q}_std`]), "target", "ttt_reached"]
  const pair = (s: Stat | undefined) => [s?.mean, s?.std]
  const lines = [header.join(",")]
  for (const r of t.rows) {
    const x = r.timeToTarget
    lines.push(
      [
        "method",
        r.method,
        r.groupSize,
        r.seeds.join(" "),
        r.steps.mean,
        r.test.n,
        r.ood.n,
        ...pair(r.seconds),
        ...pair(r.rollouts),
        ...pair(r.tokens),
        ...pair(r.test.meanAtN),
        ...pair(r.test.passAtN),
        ...pair(r.ood.meanAtN),
        ...pair(r.ood.passAtN),
        ...pair(x?.seconds),
        ...pair(x?.rollouts),
        ...pair(x?.passAtN),
        t.target?.value,
        x ? `${x.reached}/${x.seeds}` : undefined
      ]
        .map(csvField)
        .join(",")
    )
  }
  if (t.delta) {
    const d = t.delta
    const diff = (c: Change | undefined) => [c === undefined ? undefined : c.to - c.from, undefined]
    lines.push(
      [
        "delta",
        `${d.from} -> ${d.to}`,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        ...diff(d.seconds),
        ...diff(d.rollouts),
        ...diff(d.tokens),
        ...diff(d.testMeanAtN),
        ...diff(d.testPassAtN),
        ...diff(d.oodMeanAtN),
        ...diff(d.oodPassAtN),
        ...diff(d.timeToTargetSeconds),
        ...diff(d.timeToTargetRollouts),
        undefined,
        undefined,
        t.target?.value,
        undefined
      ]
        .map(csvField)
        .join(",")
    )
  }
  return lines.join("\n") + "\n"
}
