/**
 * The report's charts as plain data (one `ChartSpec` per chart, lines as {x, y} points), computed
 * here so the browser only draws them. Each method gets a bold line, the mean over its seeds at
 * each step (steps every seed has), and, when it has several seeds, a thin line per seed: reward,
 * held-out Mean@n (test and out-of-distribution) against optimizer steps, rollouts generated and
 * wall time, and the fraction of zero-advantage (all-equal reward) groups per step.
 * `metricSpecs` adds one chart per scalar the runs logged, whatever its name (`Run.scalars`).
 */
import type { EvalPoint, RlPoint, Run } from "./Runs.js"

export interface Point {
  readonly x: number
  readonly y: number
}

export interface Series {
  readonly label: string
  readonly color: string
  /** "mean": a method's mean over seeds (in the legend); "run": one seed (thin, not in the legend). */
  readonly kind: "mean" | "run"
  readonly points: ReadonlyArray<Point>
}

export interface ChartSpec {
  readonly id: string
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  /** Fixed y range (percentages); undefined lets the chart fit the data. */
  readonly yRange: readonly [number, number] | undefined
  /** Means first, then runs. */
  readonly series: ReadonlyArray<Series>
  /** For the per-metric charts: the metric's name (the picker filters on it). */
  readonly metric?: string
}

/** Tableau 10 without its grey, so every method's line is a saturated colour. */
export const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]

type Axis = "step" | "rollouts" | "time"

/** Sample points on a common key (the step) averaged over the runs that all have that key. */
const meanOver = <P>(perRun: ReadonlyArray<ReadonlyArray<P>>, key: (p: P) => number, x: (p: P) => number, y: (p: P) => number): Point[] => {
  const sums = new Map<number, { x: number; y: number; count: number }>()
  for (const points of perRun) {
    for (const p of points) {
      const k = key(p)
      const s = sums.get(k) ?? { x: 0, y: 0, count: 0 }
      sums.set(k, { x: s.x + x(p), y: s.y + y(p), count: s.count + 1 })
    }
  }
  return [...sums.entries()]
    .filter(([, s]) => s.count === perRun.length)
    .sort(([a], [b]) => a - b)
    .map(([, s]) => ({ x: s.x / s.count, y: s.y / s.count }))
}

export interface Options {
  /** Wall-time axis unit: minutes when the longest run exceeds this many seconds (default 1200). */
  readonly minutesAbove?: number
}

/** Runs by method, methods in the table's order (largest group first), and each method's colour. */
const byMethod = (runs: ReadonlyArray<Run>) => {
  const methods = new Map<string, Run[]>()
  for (const run of runs) methods.set(run.method, [...(methods.get(run.method) ?? []), run])
  const order = [...methods.keys()].sort((a, b) => (methods.get(b)![0]!.groupSize ?? -1) - (methods.get(a)![0]!.groupSize ?? -1) || a.localeCompare(b))
  const color = new Map(order.map((m, i) => [m, palette[i % palette.length]!]))
  return { methods, order, color }
}

/** A chart id (and PNG file name) from a metric name: `val-core/test/meanAtN` -> `metric-val-core--test--meanAtN`. */
export const metricId = (name: string) => `metric-${name.replace(/\//g, "--").replace(/@/g, "_at_").replace(/[^A-Za-z0-9_.-]/g, "_")}`

/**
 * One chart per scalar metric the runs logged (`Run.scalars`), sorted by name: value against the
 * step (SFT steps for `sft/...`), a mean line per method over the seeds that have the step, and a
 * thin line per seed when a method has several.
 */
export const metricSpecs = (runs: ReadonlyArray<Run>): ChartSpec[] => {
  const { methods, order, color } = byMethod(runs)
  const names = [...new Set(runs.flatMap((r) => [...r.scalars.keys()]))].sort()
  const ids = new Set<string>()
  const uniqueId = (name: string) => {
    let id = metricId(name)
    for (let i = 2; ids.has(id); i++) id = `${metricId(name)}-${i}`
    ids.add(id)
    return id
  }
  return names.map((name) => {
    const means: Series[] = []
    const each: Series[] = []
    for (const method of order) {
      const group = methods.get(method)!
      const perRun = group.map((r) => r.scalars.get(name) ?? [])
      const present = perRun.filter((ps) => ps.length > 0)
      if (present.length === 0) continue
      const mean = meanOver(present, (p) => p.step, (p) => p.step, (p) => p.value)
      if (mean.length > 0) means.push({ label: method, color: color.get(method)!, kind: "mean", points: mean })
      if (group.length > 1) {
        group.forEach((run, i) => {
          if (perRun[i]!.length > 0) each.push({ label: `${method} seed ${run.seed}`, color: color.get(method)!, kind: "run", points: perRun[i]!.map((p) => ({ x: p.step, y: p.value })) })
        })
      }
    }
    const sft = name.startsWith("sft/")
    return { id: uniqueId(name), title: name, xLabel: sft ? "SFT step" : "optimizer step", yLabel: name, yRange: undefined, series: [...means, ...each], metric: name }
  }).filter((c) => c.series.length > 0)
}

/** Every chart the report draws; charts with no data at all (e.g. no OOD split) are left out. */
export const specs = (runs: ReadonlyArray<Run>, options: Options = {}): ChartSpec[] => {
  // Same order as the table: largest group first.
  const { methods, order, color } = byMethod(runs)

  const longest = Math.max(0, ...runs.flatMap((r) => r.rl.map((p) => p.seconds)))
  const minutes = longest > (options.minutesAbove ?? 1200)
  const timeScale = minutes ? 1 / 60 : 1
  const xOf = { step: (p: { step: number }) => p.step, rollouts: (p: { rollouts: number }) => p.rollouts, time: (p: { seconds: number }) => p.seconds * timeScale }
  const xLabel: Record<Axis, string> = { step: "optimizer step", rollouts: "rollouts generated", time: minutes ? "wall time (min)" : "wall time (s)" }
  const axes: Axis[] = ["step", "rollouts", "time"]

  const lines = <P extends { step: number; rollouts: number; seconds: number }>(pointsOf: (run: Run) => ReadonlyArray<P>, axis: Axis, y: (p: P) => number): Series[] => {
    const means: Series[] = []
    const each: Series[] = []
    for (const method of order) {
      const group = methods.get(method)!
      const perRun = group.map(pointsOf)
      const x = xOf[axis] as (p: P) => number
      const mean = meanOver(perRun, (p) => p.step, x, y)
      if (mean.length > 0) means.push({ label: method, color: color.get(method)!, kind: "mean", points: mean })
      if (group.length > 1) {
        group.forEach((run, i) => {
          const points = perRun[i]!.map((p) => ({ x: x(p), y: y(p) }))
          if (points.length > 0) each.push({ label: `${method} seed ${run.seed}`, color: color.get(method)!, kind: "run", points })
        })
      }
    }
    return [...means, ...each]
  }

  const rl = (run: Run): ReadonlyArray<RlPoint> => run.rl
  const evalsOf = (split: string) => (run: Run): ReadonlyArray<EvalPoint> => run.evals.filter((e) => e.split === split)
  const nOf = (split: string) => {
    const ns = new Set(runs.flatMap((r) => r.evals.filter((e) => e.split === split).map((e) => e.n)))
    return ns.size === 1 ? String([...ns][0]) : "n"
  }

  const charts: ChartSpec[] = []
  for (const axis of axes) {
    charts.push({ id: `reward-${axis}`, title: `Training reward vs ${xLabel[axis]}`, xLabel: xLabel[axis], yLabel: "mean reward", yRange: undefined, series: lines(rl, axis, (p) => p.reward) })
  }
  for (const [split, name] of [["test", "Test"], ["ood", "Out-of-distribution"]] as const) {
    for (const axis of axes) {
      charts.push({
        id: `${split}-${axis}`,
        title: `${name} Mean@${nOf(split)} vs ${xLabel[axis]}`,
        xLabel: xLabel[axis],
        yLabel: `Mean@${nOf(split)} (%)`,
        yRange: [0, 100],
        series: lines(evalsOf(split), axis, (p) => 100 * p.meanAtN)
      })
    }
  }
  charts.push({
    id: "zero-std-step",
    title: "Zero-advantage groups (all rollouts of a prompt scored alike) vs optimizer step",
    xLabel: xLabel.step,
    yLabel: "groups with reward std 0 (%)",
    yRange: [0, 100],
    series: lines(rl, "step", (p) => 100 * p.fracZeroStd)
  })
  return charts.filter((c) => c.series.length > 0)
}
