import { describe, expect, it } from "vitest"
import { Effect, Exit } from "effect"
import { Recipe } from "../src/index.js"

const run = <A, E>(eff: Effect.Effect<A, E>) => Effect.runSync(Effect.exit(eff))
const errorOf = <A, E>(eff: Effect.Effect<A, E>): string => {
  const exit = run(eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return String((exit.cause as unknown as { reasons?: Array<{ error?: { message?: string } }> }).reasons?.[0]?.error?.message ?? exit.cause)
}

describe("Recipe", () => {
  it("the defaults decode and describe 2-GRPO", () => {
    const r = Effect.runSync(Recipe.load(undefined, undefined))
    expect(r.rl.estimator.kind).toBe("2-grpo")
    expect(r.rl.groupSize).toEqual({ kind: "fixed", size: 2 })
  })
  it("a YAML file overrides only what it names; --set overrides the file", () => {
    const yaml = "name: rloo\nrl:\n  estimator: { kind: rloo }\n  steps: 7\n"
    const r = Effect.runSync(Recipe.load("r.yaml", yaml, ["rl.steps=9", "rl.sampling.temperature=0.5"]))
    expect(r.name).toBe("rloo")
    expect(r.rl.estimator).toEqual({ kind: "rloo" })
    expect(r.rl.steps).toBe(9)
    expect(r.rl.sampling.temperature).toBe(0.5)
    expect(r.rl.promptsPerStep).toBe(Recipe.defaults.rl.promptsPerStep)
  })
  it("changing a plugin's kind replaces the union member instead of merging stale fields", () => {
    const r = Effect.runSync(Recipe.load(undefined, undefined, ['rl.groupSize={"kind":"adaptive","initial":2,"max":16}', 'rl.estimator={"kind":"grpo"}']))
    expect(r.rl.groupSize).toEqual({ kind: "adaptive", initial: 2, max: 16 })
  })
  it("a bad field is named by its path and the file", () => {
    expect(errorOf(Recipe.load("bad.yaml", "rl:\n  lr: fast\n"))).toMatch(/^bad\.yaml: rl\.lr: Expected/)
    expect(errorOf(Recipe.load("bad.yaml", "rl:\n  estimator: { kind: grpoo }\n"))).toMatch(/bad\.yaml: rl\.estimator/)
    expect(errorOf(Recipe.load(undefined, undefined, ["rl.steps=-1"]))).toMatch(/rl\.steps: Expected a value greater than or equal to 0/)
  })
  it("an unknown field is an error, not silently ignored", () => {
    expect(errorOf(Recipe.load("typo.yaml", "rl:\n  stpes: 10\n"))).toMatch(/typo\.yaml: rl\.stpes: Expected no excess property/)
  })
  it("YAML syntax errors give file, line and column", () => {
    expect(errorOf(Recipe.load("broken.yaml", "rl:\n  steps: [1, 2\n"))).toMatch(/^broken\.yaml:\d+:\d+: /)
  })
  it("cross-field rules: 2-grpo needs pairs, nHead divides nEmbd", () => {
    expect(errorOf(Recipe.load(undefined, undefined, ['rl.groupSize={"kind":"fixed","size":4}']))).toMatch(/rl\.groupSize: 2-grpo needs a fixed group size of 2/)
    expect(errorOf(Recipe.load(undefined, undefined, ["model.nHead=5"]))).toMatch(/model\.nHead: must divide/)
  })
  it("--set parses JSON values and keeps other strings as strings", () => {
    expect(Effect.runSync(Recipe.parseOverride("a.b=3"))).toEqual({ a: { b: 3 } })
    expect(Effect.runSync(Recipe.parseOverride("name=my-run"))).toEqual({ name: "my-run" })
    expect(errorOf(Recipe.parseOverride("novalue"))).toMatch(/expected key\.path=value/)
  })
  it("the shipped recipes decode", async () => {
    const { readFile, readdir } = await import("node:fs/promises")
    const dir = new URL("../../../recipes/", import.meta.url)
    const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml"))
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const f of files) {
      const text = await readFile(new URL(f, dir), "utf8")
      const exit = run(Recipe.load(f, text))
      expect(Exit.isSuccess(exit), `${f}: ${String(Exit.isFailure(exit) ? exit.cause : "")}`).toBe(true)
    }
  })
})
