import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Runs } from "../src/index.js"
import type { RunSpec } from "./Fixture.js"
import { tempDir, writeRun } from "./Fixture.js"

const run = <A, E>(eff: Effect.Effect<A, E>) => Effect.runPromise(eff)
const failure = async <A, E extends { message: string }>(eff: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const e = exit.cause.reasons[0] as { error?: E } | undefined
  return (e?.error?.message ?? String(exit.cause)) as string
}

// 4 steps of G = 4 on 8 prompts, 2 s/step after a 10 s warm start; test evals before, at 2, after.
const spec: RunSpec = {
  method: "4-grpo",
  seed: 3,
  groupSize: 4,
  steps: 4,
  sftSeconds: 10,
  stepSeconds: 2,
  reward: (s) => 0.1 * s,
  fracZeroStd: (s) => 0.5 - 0.1 * s,
  evals: [
    { phase: "before", step: 0, split: "test", meanAtN: 0.2, passAtN: 0.4 },
    { phase: "during", step: 2, split: "test", meanAtN: 0.3, passAtN: 0.5 },
    { phase: "after", step: 4, split: "test", meanAtN: 0.4, passAtN: 0.6 },
    { phase: "after", step: 4, split: "ood", meanAtN: 0.1, passAtN: 0.2 }
  ]
}

describe("Runs.load: one run directory", () => {
  it("reads recipe, rl points, evaluations placed on the rollout/time axes, and the summary", async () => {
    const dir = writeRun(tempDir(), spec)
    const [r] = await run(Runs.load(dir))
    expect(r!.method).toBe("4-grpo")
    expect(r!.seed).toBe(3)
    expect(r!.groupSize).toBe(4)
    expect(r!.rl.map((p) => p.step)).toEqual([0, 1, 2, 3])
    expect(r!.rl[2]).toEqual({ step: 2, reward: 0.2, fracZeroStd: 0.3, rollouts: 4 * 8 * 3, tokens: 4 * 8 * 3 * 5, seconds: 10 + 2 * 3 })
    // before: no rollouts yet, clock at the end of SFT; eval after 2 steps: RL step 1's totals (64 rollouts, 14 s)
    const test = r!.evals.filter((e) => e.split === "test")
    expect(test.map((e) => [e.phase, e.step, e.rollouts, e.seconds])).toEqual([
      ["before", 0, 0, 10],
      ["during", 2, 64, 14],
      ["after", 4, 128, 18]
    ])
    expect(r!.summary!.rollouts).toBe(128)
    expect(Runs.totals(r!)).toEqual({ steps: 4, rollouts: 128, tokens: 640, seconds: 10 + 8 + 1 })
    expect(Runs.finalEvals(r!).map((e) => e.split)).toEqual(["test", "ood"])
    expect(r!.skippedLines).toEqual([])
    rmSync(dir, { recursive: true })
  })

  it("a torn last line (crash) is skipped and reported; the run without summary.json is unfinished", async () => {
    const dir = writeRun(tempDir(), { ...spec, finished: false, append: '{"kind":"rl","step":4,"critic/rew' })
    const [r] = await run(Runs.load(dir))
    // 1 sft + 1 before + 4 rl + 1 during + 2 after = 9 lines, the torn one is line 10
    expect(r!.skippedLines).toEqual([10])
    expect(r!.rl).toHaveLength(4)
    expect(r!.summary).toBeUndefined()
    // totals from the last rl record: 4 steps, 128 rollouts, clock 18 s
    expect(Runs.totals(r!)).toEqual({ steps: 4, rollouts: 128, tokens: 640, seconds: 18 })
    rmSync(dir, { recursive: true })
  })

  it("after a resume, a repeated step or evaluation keeps the later record", async () => {
    const text = [
      { kind: "rl", step: 0, "critic/rewards/mean": 0.1, frac_zero_std_groups: 0.5, "rollouts/total": 8, "tokens/total": 40, "time/total_s": 1 },
      { kind: "eval", phase: "during", step: 1, split: "test", n: 4, meanAtN: 0.25, passAtN: 0.5 },
      { kind: "rl", step: 0, "critic/rewards/mean": 0.2, frac_zero_std_groups: 0.5, "rollouts/total": 8, "tokens/total": 40, "time/total_s": 1.5 },
      { kind: "eval", phase: "during", step: 1, split: "test", n: 4, meanAtN: 0.5, passAtN: 0.75 }
    ].map((r) => JSON.stringify(r)).join("\n")
    const parsed = await run(Runs.parseMetrics(text, "m.jsonl"))
    expect(parsed.rl).toEqual([{ step: 0, reward: 0.2, fracZeroStd: 0.5, rollouts: 8, tokens: 40, seconds: 1.5 }])
    expect(parsed.evals.map((e) => e.meanAtN)).toEqual([0.5])
  })

  it("every numeric field becomes a scalar series; verl's critic/score/mean is the reward (critic/rewards/mean for older runs)", async () => {
    const text = [
      { kind: "sft", step: 9, loss: 1.5, lr: 0.003, time: 2 },
      { kind: "rl", step: 0, "critic/score/mean": 0.25, "actor/ppo_kl": 0.01, frac_zero_std_groups: 0.5, "rollouts/total": 8, "tokens/total": 40, "time/total_s": 3, note: "x" },
      { kind: "rl", step: 1, "critic/score/mean": 0.5, "actor/ppo_kl": 0.02, frac_zero_std_groups: 0.5, "rollouts/total": 16, "tokens/total": 80, "time/total_s": 4 },
      { kind: "eval", phase: "after", step: 2, split: "test", n: 4, meanAtN: 0.75, passAtN: 1, "val-core/test/reward/mean@4": 0.75 }
    ].map((r) => JSON.stringify(r)).join("\n")
    const parsed = await run(Runs.parseMetrics(text, "m.jsonl"))
    expect(parsed.rl.map((p) => p.reward)).toEqual([0.25, 0.5])
    expect(parsed.scalars.get("actor/ppo_kl")).toEqual([{ step: 0, value: 0.01 }, { step: 1, value: 0.02 }])
    expect(parsed.scalars.get("sft/loss")).toEqual([{ step: 9, value: 1.5 }])
    expect(parsed.scalars.get("val-core/test/meanAtN")).toEqual([{ step: 2, value: 0.75 }])
    expect(parsed.scalars.get("val-core/test/reward/mean@4")).toEqual([{ step: 2, value: 0.75 }])
    expect([...parsed.scalars.keys()].some((k) => k.includes("note") || k.endsWith("/step") || k.includes("phase"))).toBe(false)
  })
})

describe("Runs.load: bad input names the file and line", () => {
  it("a metrics line that parses but is not an object", async () => {
    const dir = writeRun(tempDir(), { ...spec, append: "[1, 2]\n" })
    expect(await failure(Runs.load(dir))).toBe(`${join(dir, "metrics.jsonl")}:10: expected a JSON object, found an array`)
    rmSync(dir, { recursive: true })
  })
  it("an rl record missing a field or out of range, an eval record with a bad phase, a record without kind", async () => {
    const bad = (line: string) => Effect.flip(Runs.parseMetrics(`{"kind":"sft","time":1}\n${line}\n`, "m.jsonl")).pipe(Effect.map((e) => e.message))
    expect(await run(bad('{"kind":"rl","step":0,"critic/rewards/mean":0.5,"frac_zero_std_groups":0.5,"rollouts/total":8,"tokens/total":40}'))).toMatch(
      /^m\.jsonl:2 \(rl record\): time\/total_s: Missing key/
    )
    expect(await run(bad('{"kind":"rl","step":0,"critic/rewards/mean":0.5,"frac_zero_std_groups":1.5,"rollouts/total":8,"tokens/total":40,"time/total_s":1}'))).toMatch(
      /^m\.jsonl:2 \(rl record\): frac_zero_std_groups: Expected a value between 0 and 1/
    )
    expect(await run(bad('{"kind":"eval","phase":"later","step":1,"split":"test","n":4,"meanAtN":0.5,"passAtN":0.5}'))).toMatch(/^m\.jsonl:2 \(eval record\): phase: Expected "before" \| "during" \| "after"/)
    expect(await run(bad('{"step":3}'))).toBe('m.jsonl:2: expected a "kind" field ("sft" | "rl" | "eval")')
    expect(await run(bad("42"))).toBe("m.jsonl:2: expected a JSON object, found 42")
  })
  it("a missing recipe.json, a recipe without name, a summary.json with a bad field", async () => {
    const empty = tempDir()
    expect(await failure(Runs.loadRun(empty))).toMatch(new RegExp(`^${join(empty, "recipe.json")}: missing \\(is .* a run directory written by duet train\\?\\)`))
    expect(await failure(Runs.load(empty))).toMatch(/no recipe\.json here or in any subdirectory/)
    expect(await failure(Runs.load(join(empty, "nope")))).toMatch(/nope: no such directory/)
    writeFileSync(join(empty, "recipe.json"), '{"seed": 1}')
    expect(await failure(Runs.load(empty))).toBe(`${join(empty, "recipe.json")}: name: Missing key`)
    writeFileSync(join(empty, "recipe.json"), "{not json")
    expect(await failure(Runs.load(empty))).toMatch(new RegExp(`^${join(empty, "recipe.json")}: not valid JSON`))
    rmSync(empty, { recursive: true })
    const dir = writeRun(tempDir(), spec)
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ steps: 4, rollouts: 128, tokens: 640, seconds: { total: "fast" }, after: [] }))
    expect(await failure(Runs.load(dir))).toBe(`${join(dir, "summary.json")}: seconds.total: Expected number`)
    rmSync(dir, { recursive: true })
  })
})

describe("Runs.load: a directory of run directories", () => {
  it("loads every subdirectory holding a recipe.json, sorted; ignores others", async () => {
    const root = tempDir()
    writeRun(join(root, "b-seed1"), { ...spec, method: "b", seed: 1 })
    writeRun(join(root, "a-seed2"), { ...spec, method: "a", seed: 2 })
    mkdirSync(join(root, "plots"))
    writeFileSync(join(root, "compare.json"), "{}")
    const runs = await run(Runs.load(root))
    expect(runs.map((r) => [r.method, r.seed])).toEqual([["a", 2], ["b", 1]])
    writeRun(join(root, "c-again"), { ...spec, method: "b", seed: 1 })
    expect(await failure(Runs.load(root))).toMatch(/c-again: method "b" seed 1 also in b-seed1/)
    rmSync(root, { recursive: true })
  })
})
