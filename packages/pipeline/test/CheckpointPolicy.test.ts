import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Checkpoints, Recipe, RunDir } from "../src/index.js"

const recipe = (...sets: string[]) => Effect.runSync(Recipe.load(undefined, undefined, sets))
const eval_ = (step: number, meanAtN: number, split = "test") => ({ kind: "eval", phase: "during", step, split, meanAtN })

describe("checkpoint: { every, keepLast, keepBest }", () => {
  it("the recipe field, the older fields, and both at once (an error naming the field)", () => {
    expect(Checkpoints.policy(recipe('checkpoint={"every":10,"keepLast":2}'))).toEqual({ every: 10, keepLast: 2, keepBest: true, metric: Checkpoints.defaultMetric })
    expect(Checkpoints.policy(recipe("checkpointEvery=7", "checkpointKeepLast=3"))).toEqual({ every: 7, keepLast: 3, keepBest: false, metric: Checkpoints.defaultMetric })
    expect(Checkpoints.policy(recipe())).toMatchObject({ every: 50, keepBest: false })
    const both = Effect.runSync(Effect.exit(Recipe.load(undefined, undefined, ['checkpoint={"every":10}', "checkpointKeepLast=3"])))
    expect(JSON.stringify(both)).toMatch(/checkpoint: replaces checkpointEvery \/ checkpointKeepLast/)
    const bad = Effect.runSync(Effect.exit(Recipe.load(undefined, undefined, ['checkpoint={"every":10,"keepLast":0}'])))
    expect(JSON.stringify(bad)).toMatch(/checkpoint\.keepLast/)
    const p = Checkpoints.policy(recipe('checkpoint={"every":10}'))
    expect([10, 20, 25, 33].map((s) => Checkpoints.due(p, s, 25))).toEqual([true, true, true, false])
  })

  it("bestStep: the highest test score among checkpointed steps, earliest on a tie", () => {
    const records = [eval_(0, 0.5), eval_(10, 0.7), eval_(10, 0.99, "ood"), eval_(20, 0.9), eval_(30, 0.9), eval_(40, 0.95), { kind: "rl", step: 40, meanAtN: 1 }]
    expect(Checkpoints.bestStep(records, [0, 10, 20, 30])).toBe(20)
    expect(Checkpoints.bestStep(records, [0, 10, 20, 30, 40])).toBe(40)
    expect(Checkpoints.bestStep(records, [5])).toBeUndefined()
    expect(Checkpoints.bestStep(records, [0, 10], { split: "ood", field: "meanAtN" })).toBe(10)
  })

  it("afterSave keeps the newest keepLast, step 0 and the best, and points checkpoints/best at it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-ckpt-"))
    await Effect.runPromise(RunDir.ensure(dir))
    for (const s of [0, 10, 20, 30, 40, 50]) mkdirSync(RunDir.paths(dir).checkpoint(s), { recursive: true })
    for (const [s, m] of [[0, 0.4], [10, 0.6], [20, 0.8], [30, 0.5], [40, 0.7], [50, 0.6]] as const) await Effect.runPromise(RunDir.appendMetrics(dir, eval_(s, m)))
    const p = Checkpoints.policy(recipe('checkpoint={"every":10,"keepLast":2}'))
    const r = await Effect.runPromise(Checkpoints.afterSave(dir, p, 50))
    expect(r.best).toBe(20)
    expect([...r.dropped].sort((a, b) => a - b)).toEqual([10, 30])
    expect(await Effect.runPromise(Checkpoints.steps(dir))).toEqual([50, 40, 20, 0])
    expect(readFileSync(Checkpoints.bestPointer(dir), "utf8")).toBe("step-000020\n")
    // Without keepBest the best is not protected and no pointer is written.
    const plain = mkdtempSync(join(tmpdir(), "duet-ckpt-"))
    for (const s of [0, 10, 20, 30]) mkdirSync(RunDir.paths(plain).checkpoint(s), { recursive: true })
    await Effect.runPromise(Checkpoints.afterSave(plain, { ...p, keepBest: false, keepLast: 1 }, 30))
    expect(await Effect.runPromise(Checkpoints.steps(plain))).toEqual([30, 0])
    expect(existsSync(Checkpoints.bestPointer(plain))).toBe(false)
  })
})
