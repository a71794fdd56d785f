import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { Runs, Table } from "../src/index.js"
import type { EvalSpec, RunSpec } from "./Fixture.js"
import { tempDir, writeRun } from "./Fixture.js"

fc.configureGlobal({ seed: 42 })

const run = <A, E>(eff: Effect.Effect<A, E>) => Effect.runPromise(eff)
const failure = async <A, E extends { message: string }>(eff: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const e = exit.cause.reasons[0] as { error?: E } | undefined
  return (e?.error?.message ?? String(exit.cause)) as string
}

const test = (phase: EvalSpec["phase"], step: number, meanAtN: number, passAtN = Math.min(1, meanAtN + 0.2)): EvalSpec => ({ phase, step, split: "test", meanAtN, passAtN })
const base = { steps: 20, sftSeconds: 10, reward: () => 0.5, fracZeroStd: () => 0.25 }

/**
 * Hand-made curves. 16-grpo (G = 16, 8 prompts, 3 s/step): seed 1 ends at 0.62, seed 2 at 0.58,
 * so the default target is their mean 0.60 and "reached" means Mean@n >= 0.59.
 *   16/seed1: 0.30 @5, 0.50 @10, 0.60 @15, 0.62 @20 -> first >= 0.59 at step 15: 16*8*15 = 1920
 *             rollouts, 10 + 3*15 = 55 s, Pass@n 0.80. (A "before" 0.95 must not count.)
 *   16/seed2: 0.30, 0.45, 0.55, 0.58 -> never.
 *   2/seed1 (G = 2, 1 s/step): 0.40 @5, 0.59 @10 (exactly the threshold), 0.61 @15, 0.61 @20
 *             -> step 10: 2*8*10 = 160 rollouts, 10 + 10 = 20 s, Pass@n 0.79.
 *   2/seed2: 0.35, 0.50, 0.61 @15, 0.63 -> step 15: 240 rollouts, 25 s, Pass@n 0.81.
 */
const handMade = (): { dir: string; specs: RunSpec[] } => {
  const dir = tempDir()
  const specs: RunSpec[] = [
    { ...base, method: "16-grpo", seed: 1, groupSize: 16, stepSeconds: 3, evals: [test("before", 0, 0.95), test("during", 5, 0.3), test("during", 10, 0.5), test("during", 15, 0.6), test("after", 20, 0.62)] },
    { ...base, method: "16-grpo", seed: 2, groupSize: 16, stepSeconds: 3, evals: [test("during", 5, 0.3), test("during", 10, 0.45), test("during", 15, 0.55), test("after", 20, 0.58)] },
    { ...base, method: "2-grpo", seed: 1, groupSize: 2, stepSeconds: 1, evals: [test("during", 5, 0.4), test("during", 10, 0.59), test("during", 15, 0.61), test("after", 20, 0.61)] },
    { ...base, method: "2-grpo", seed: 2, groupSize: 2, stepSeconds: 1, evals: [test("during", 5, 0.35), test("during", 10, 0.5), test("during", 15, 0.61), test("after", 20, 0.63)] }
  ]
  for (const s of specs) writeRun(join(dir, `${s.method}-seed${s.seed}`), s)
  return { dir, specs }
}

describe("Table.stat: mean and sample std over seeds", () => {
  it("worked numbers: [1, 2, 3, 4] -> 2.5 ± sqrt(5/3); one value has no spread; none is undefined", () => {
    const s = Table.stat([1, 2, 3, 4])!
    expect(s.mean).toBe(2.5)
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12)
    expect(Table.stat([7])).toEqual({ mean: 7, std: undefined, count: 1 })
    expect(Table.stat([])).toBeUndefined()
  })
  it("property: stat(a x + b) = a mean + b, |a| std (tolerance: 1e-9 relative, float round-off of sums of <= 8 terms)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (xs, a, b) => {
          const s = Table.stat(xs)!
          const t = Table.stat(xs.map((x) => a * x + b))!
          const scale = 1e-9 * (1 + Math.abs(a) * Math.max(...xs.map(Math.abs)) + Math.abs(b))
          expect(Math.abs(t.mean - (a * s.mean + b))).toBeLessThanOrEqual(scale)
          expect(Math.abs(t.std! - Math.abs(a) * s.std!)).toBeLessThanOrEqual(scale)
        }
      )
    )
  })
})

describe("Table.rows on hand-made curves", () => {
  it("rows: largest group first, seeds, totals and final accuracy as mean ± std", async () => {
    const { dir } = handMade()
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs)))
    expect(t.rows.map((r) => r.method)).toEqual(["16-grpo", "2-grpo"])
    const [big, small] = t.rows
    expect(big!.seeds).toEqual([1, 2])
    expect(big!.groupSize).toBe(16)
    // summary.json: rollouts = 16 * 8 * 20, seconds.total = 10 + 3 * 20 + 1
    expect(big!.rollouts).toEqual({ mean: 2560, std: 0, count: 2 })
    expect(big!.seconds.mean).toBe(71)
    expect(small!.rollouts.mean).toBe(320)
    expect(small!.tokens.mean).toBe(1600)
    expect(big!.test.n).toBe(8)
    expect(big!.test.meanAtN!.mean).toBeCloseTo(0.6, 12)
    expect(big!.test.meanAtN!.std).toBeCloseTo(Math.sqrt(2 * 0.02 ** 2), 12)
    expect(small!.test.meanAtN!.mean).toBeCloseTo(0.62, 12)
    expect(big!.ood.meanAtN).toBeUndefined()
    rmSync(dir, { recursive: true })
  })

  it("time to accuracy: default target = 16-grpo's final test Mean@n, first during/after eval within 1 point", async () => {
    const { dir } = handMade()
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs)))
    expect(t.target!.value).toBeCloseTo(0.6, 12)
    expect(t.target!.source).toBe("final test Mean@8 of 16-grpo")
    const [big, small] = t.rows
    expect(big!.timeToTarget).toMatchObject({ reached: 1, seeds: 2 })
    expect(big!.timeToTarget!.rollouts).toEqual({ mean: 1920, std: undefined, count: 1 })
    expect(big!.timeToTarget!.seconds!.mean).toBe(55)
    expect(big!.timeToTarget!.passAtN!.mean).toBeCloseTo(0.8, 12)
    expect(small!.timeToTarget).toMatchObject({ reached: 2, seeds: 2 })
    expect(small!.timeToTarget!.rollouts!.mean).toBe(200)
    expect(small!.timeToTarget!.rollouts!.std).toBeCloseTo(Math.sqrt(2 * 40 ** 2), 9)
    expect(small!.timeToTarget!.seconds!.mean).toBe(22.5)
    expect(small!.timeToTarget!.seconds!.std).toBeCloseTo(Math.sqrt(2 * 2.5 ** 2), 12)
    expect(small!.timeToTarget!.passAtN!.mean).toBeCloseTo(0.8, 12)
    const text = Table.text(t)
    expect(text).toContain("1,920 (1/2 seeds)")
    rmSync(dir, { recursive: true })
  })

  it("an explicit --target: 0.50 (reached at >= 0.49) and 0.99 (never)", async () => {
    const { dir } = handMade()
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs, { target: 0.5 })))
    expect(t.target).toEqual({ value: 0.5, tolerance: 0.01, source: "--target" })
    const big = t.rows[0]!.timeToTarget!
    // seed 1: 0.50 @10 -> 1280 rollouts; seed 2: 0.45 @10 misses, 0.55 @15 -> 1920
    expect(big.reached).toBe(2)
    expect(big.rollouts!.mean).toBe((1280 + 1920) / 2)
    const unreachable = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs, { target: 0.99 })))
    expect(unreachable.rows.every((r) => r.timeToTarget!.reached === 0)).toBe(true)
    expect(Table.text(unreachable)).toContain("not reached")
    rmSync(dir, { recursive: true })
  })

  it("within one point up to float round-off: target 0.10 is reached at 0.09 (0.1 - 0.01 = 0.09000000000000001), not at 0.0899", async () => {
    const dir = tempDir()
    writeRun(dir, { ...base, method: "2-grpo", seed: 1, groupSize: 2, stepSeconds: 1, evals: [test("during", 5, 0.0899), test("during", 10, 0.09), test("after", 20, 0.2)] })
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs, { target: 0.1 })))
    expect(t.rows[0]!.timeToTarget!.rollouts!.mean).toBe(2 * 8 * 10)
    expect(t.delta).toBeUndefined()
    rmSync(dir, { recursive: true })
  })

  it("delta row 16 -> 2: relative change of time/rollouts/tokens, accuracy in points", async () => {
    const { dir } = handMade()
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs)))
    const d = t.delta!
    expect([d.from, d.to]).toEqual(["16-grpo", "2-grpo"])
    expect(d.rollouts).toEqual({ from: 2560, to: 320 })
    expect(d.seconds).toEqual({ from: 71, to: 31 })
    expect(d.testMeanAtN!.to - d.testMeanAtN!.from).toBeCloseTo(0.02, 12)
    // 16-grpo reached on 1 seed of 2: no time-to-target delta
    expect(d.timeToTargetSeconds).toBeUndefined()
    const last = Table.cells(t).body.at(-1)!
    expect(last[0]).toBe("Δ 16-grpo → 2-grpo")
    // rollouts 2560 -> 320 is -87.5%; time 71 -> 31 s is -56.3%; test Mean@n +2.0 pt
    expect(last.slice(3, 8)).toEqual(["−56.3%", "−87.5%", "−87.5%", "+2.0 pt", "+2.0 pt"])
    const reversed = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs, { delta: ["2-grpo", "16-grpo"] })))
    expect(reversed.delta!.rollouts).toEqual({ from: 320, to: 2560 })
    rmSync(dir, { recursive: true })
  })

  it("property: the table does not depend on the order of the runs", async () => {
    const { dir } = handMade()
    const runs = await run(Runs.load(dir))
    const reference = await run(Table.rows(runs))
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([...runs], { minLength: runs.length }), async (shuffled) => {
        expect(await run(Table.rows(shuffled))).toEqual(reference)
      }),
      { numRuns: 20 }
    )
    rmSync(dir, { recursive: true })
  })

  it("bad options fail with a message naming the problem", async () => {
    const { dir } = handMade()
    const runs = await run(Runs.load(dir))
    expect(await failure(Table.rows(runs, { target: 62 }))).toMatch(/target must be a test Mean@n in \[0, 1\].*got 62/)
    expect(await failure(Table.rows(runs, { delta: ["16-grpo", "4-grpo"] }))).toMatch(/delta: no method named "4-grpo"; methods: 16-grpo, 2-grpo/)
    expect(await failure(Table.rows([]))).toMatch(/no runs/)
    rmSync(dir, { recursive: true })
  })
})

describe("Table renderings", () => {
  it("markdown, csv and text carry the same rows; csv rows have as many fields as its header", async () => {
    const { dir } = handMade()
    const t = await run(Effect.flatMap(Runs.load(dir), (runs) => Table.rows(runs)))
    const md = Table.markdown(t).split("\n")
    expect(md[0]).toMatch(/^\| method \| G \| seeds \| wall time \(s\) \|/)
    expect(md[1]).toMatch(/^\| --- \| ---: \|/)
    expect(md[2]).toMatch(/^\| 16-grpo \| 16 \| 1 2 \| 71\.0 ± 0\.0 \| 2,560 ± 0 \|/)
    const csv = Table.csv(t).trimEnd().split("\n")
    expect(csv).toHaveLength(4)
    const header = csv[0]!.split(",")
    for (const line of csv) expect(line.split(",")).toHaveLength(header.length)
    const row = Object.fromEntries(header.map((h, i) => [h, csv[2]!.split(",")[i]]))
    expect(row).toMatchObject({ row: "method", method: "2-grpo", group_size: "2", seeds: "1 2", rollouts_mean: "320", ttt_reached: "2/2", ttt_rollouts_mean: "200" })
    const delta = Object.fromEntries(header.map((h, i) => [h, csv[3]!.split(",")[i]]))
    expect(delta).toMatchObject({ row: "delta", method: "16-grpo -> 2-grpo", rollouts_mean: "-2240", wall_s_mean: "-40" })
    const text = Table.text(t).split("\n")
    // aligned: every table line (header, rule, rows) ends its columns at the same offsets
    const rule = text[1]!
    expect(rule).toMatch(/^-+( {2}-+)+$/)
    expect(text[2]!.startsWith("16-grpo")).toBe(true)
    rmSync(dir, { recursive: true })
  })
})
