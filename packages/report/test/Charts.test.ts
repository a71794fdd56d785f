import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { Charts, Runs } from "../src/index.js"
import type { RunSpec } from "./Fixture.js"
import { comparison, tempDir, writeRun } from "./Fixture.js"

describe("Charts.specs", () => {
  it("2 methods x 2 seeds: 10 charts, a mean line per method (largest group first) and a thin line per seed", async () => {
    const dir = comparison()
    const runs = await Effect.runPromise(Runs.load(dir))
    const charts = Charts.specs(runs)
    expect(charts.map((c) => c.id)).toEqual([
      "reward-step", "reward-rollouts", "reward-time",
      "test-step", "test-rollouts", "test-time",
      "ood-step", "ood-rollouts", "ood-time",
      "zero-std-step"
    ])
    for (const c of charts) {
      expect(c.series.map((s) => `${s.kind}:${s.label}`)).toEqual([
        "mean:16-grpo", "mean:2-grpo",
        "run:16-grpo seed 1", "run:16-grpo seed 2", "run:2-grpo seed 1", "run:2-grpo seed 2"
      ])
    }
    expect(charts[3]!.title).toBe("Test Mean@8 vs optimizer step")
    rmSync(dir, { recursive: true })
  })

  it("the mean line averages x and y over seeds at each step every seed has", async () => {
    const root = tempDir()
    const base: RunSpec = { method: "m", seed: 1, groupSize: 2, steps: 3, sftSeconds: 0, stepSeconds: 1, reward: (s) => s, fracZeroStd: () => 0, evals: [] }
    writeRun(join(root, "a"), base)
    // seed 2: 3 s per step, reward 10 + s, and one more step (not in seed 1, so not in the mean)
    writeRun(join(root, "b"), { ...base, seed: 2, steps: 4, stepSeconds: 3, reward: (s) => 10 + s })
    const runs = await Effect.runPromise(Runs.load(root))
    const byId = new Map(Charts.specs(runs).map((c) => [c.id, c]))
    expect(byId.get("reward-step")!.series[0]!.points).toEqual([{ x: 0, y: 5 }, { x: 1, y: 6 }, { x: 2, y: 7 }])
    // wall time at step s: seed 1 s + 1, seed 2 3(s + 1): mean 2(s + 1)
    expect(byId.get("reward-time")!.series[0]!.points.map((p) => p.x)).toEqual([2, 4, 6])
    // rollouts: both 2 * 8 * (s + 1)
    expect(byId.get("reward-rollouts")!.series[0]!.points.map((p) => p.x)).toEqual([16, 32, 48])
    expect(byId.get("reward-step")!.series[2]!.points).toHaveLength(4)
    // no evaluations: no held-out charts at all
    expect([...byId.keys()]).toEqual(["reward-step", "reward-rollouts", "reward-time", "zero-std-step"])
    // a single seed has no per-seed lines
    expect(Charts.specs(runs.slice(0, 1))[0]!.series.map((s) => s.kind)).toEqual(["mean"])
    rmSync(root, { recursive: true })
  })
})

describe("Charts.metricSpecs", () => {
  it("one chart per scalar logged, whatever its name: RL fields as named, evals under val-core/<split>/, sft on its own steps", async () => {
    const dir = comparison()
    const runs = await Effect.runPromise(Runs.load(dir))
    const charts = Charts.metricSpecs(runs)
    const names = charts.map((c) => c.metric)
    expect(names).toEqual([...names].sort())
    for (const name of ["actor/grad_norm", "critic/rewards/mean", "frac_zero_std_groups", "timing_s/step", "val-core/test/meanAtN", "val-core/ood/passAtN", "sft/loss"]) {
      expect(names, name).toContain(name)
    }
    expect(names).not.toContain("step")
    const grad = charts.find((c) => c.metric === "actor/grad_norm")!
    expect(grad.series.map((s) => `${s.kind}:${s.label}`)).toEqual([
      "mean:16-grpo", "mean:2-grpo",
      "run:16-grpo seed 1", "run:16-grpo seed 2", "run:2-grpo seed 1", "run:2-grpo seed 2"
    ])
    expect(grad.xLabel).toBe("optimizer step")
    expect(charts.find((c) => c.metric === "sft/loss")!.xLabel).toBe("SFT step")
    // ids are readable file names, unique even for names that differ only in punctuation
    expect(Charts.metricId("val-core/test/reward/mean@8")).toBe("metric-val-core--test--reward--mean_at_8")
    expect(Charts.metricId("a/b-c")).not.toBe(Charts.metricId("a-b/c"))
    expect(new Set(charts.map((c) => c.id)).size).toBe(charts.length)
    rmSync(dir, { recursive: true })
  })
})
