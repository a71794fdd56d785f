/**
 * TypeScript recipes and user plugin values: what a module declares reaches the recipe (recorded by
 * name) and the trainer (used instead of the recipe's estimator and the 0/1 grade); every mistake
 * is an error naming the file and the field.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { AnyAdvantageTransform } from "@duet/core"
import { subtractGroupMean } from "@duet/estimators"
import { Recipe, Train, UserPlugins, UserRecipe } from "../src/index.js"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const errorOf = <A>(eff: Effect.Effect<A, { message: string }>) => {
  const exit = Effect.runSync(Effect.exit(eff))
  return exit._tag === "Failure" ? JSON.stringify(exit.cause) : "(no error)"
}
const errorOfAsync = async <A>(eff: Effect.Effect<A, { message: string }>) => {
  const exit = await Effect.runPromise(Effect.exit(eff))
  return exit._tag === "Failure" ? JSON.stringify(exit.cause) : "(no error)"
}

describe("UserRecipe.load", () => {
  it("a .ts module's estimator and reward are recorded by name and returned as values", async () => {
    const { recipe, plugins } = await Effect.runPromise(UserRecipe.load(fixture("half-mean.ts"), ["rl.steps=3"]))
    expect(recipe.name).toBe("half-mean")
    expect(recipe.rl.estimator).toEqual({ kind: "custom", name: "half-mean" })
    expect(recipe.rl.reward).toEqual({ kind: "custom", name: "shortIsGood" })
    expect(recipe.rl.groupSize).toEqual({ kind: "fixed", size: 4 })
    expect(recipe.rl.steps).toBe(3)
    expect(plugins.estimator?.name).toBe("half-mean")
    expect(plugins.reward?.("12\n", { id: "p", prompt: "", answer: "" })).toBeCloseTo(0.25, 12)
  })

  it("--set naming a built-in estimator replaces the user's (to compare against it)", async () => {
    const { recipe, plugins } = await Effect.runPromise(UserRecipe.load(fixture("half-mean.ts"), ['rl.estimator={"kind":"grpo"}']))
    expect(recipe.rl.estimator).toEqual({ kind: "grpo" })
    expect(plugins.estimator).toBeUndefined()
    expect(plugins.reward).toBeDefined()
  })

  it("errors name the file and the field", async () => {
    expect(await errorOfAsync(UserRecipe.load(fixture("half-mean.ts"), ["rl.lr=-1"]))).toMatch(/half-mean\.ts: rl\.lr: Expected a value greater than or equal to 0/)
    expect(await errorOfAsync(UserRecipe.load(fixture("not-a-trainer.ts")))).toMatch(/not-a-trainer\.ts: estimater: not a trainer field/)
    expect(await errorOfAsync(UserRecipe.load(fixture("broken.ts")))).toMatch(/broken\.ts: cannot load the module: this recipe module throws while loading/)
    expect(await errorOfAsync(UserRecipe.load(fixture("missing.ts")))).toMatch(/missing\.ts: cannot load the module/)
  })
})

describe("UserPlugins.bind", () => {
  const base = Effect.runSync(Recipe.load(undefined, undefined, []))
  const estimator: AnyAdvantageTransform = { ...subtractGroupMean(), name: "mine", minGroupSize: 3 }

  it("records a given estimator and checks its group size against rl.groupSize", () => {
    expect(errorOf(UserPlugins.bind(base, { estimator }))).toMatch(/rl\.groupSize: the user estimator \\"mine\\" needs groups of at least 3, the recipe has 2/)
    const four = Effect.runSync(Recipe.load(undefined, undefined, ['rl.groupSize={"kind":"fixed","size":4}', 'rl.estimator={"kind":"grpo"}']))
    expect(Effect.runSync(UserPlugins.bind(four, { estimator })).rl.estimator).toEqual({ kind: "custom", name: "mine" })
  })

  it("a recipe recording a user plugin needs its value, with the same name", () => {
    const custom = Effect.runSync(Recipe.load(undefined, undefined, ['rl.estimator={"kind":"custom","name":"theirs"}', 'rl.groupSize={"kind":"fixed","size":4}']))
    expect(errorOf(UserPlugins.bind(custom))).toMatch(/rl\.estimator: the user estimator \\"theirs\\" has no value here: run the TypeScript recipe/)
    expect(errorOf(UserPlugins.bind(custom, { estimator }))).toMatch(/records the user estimator \\"theirs\\" but the one given is \\"mine\\"/)
    const reward = Effect.runSync(Recipe.load(undefined, undefined, ['rl.reward={"kind":"custom","name":"r"}']))
    expect(errorOf(UserPlugins.bind(reward))).toMatch(/rl\.reward: the user reward \\"r\\" has no value here/)
  })
})

const tiny = [
  'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2}}',
  'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "sft.steps=10",
  "sft.target=false",
  "sft.examples=40",
  "rl.trainProblems=40",
  "rl.promptsPerStep=8",
  "rl.steps=2",
  "eval.problems=4",
  "eval.n=2",
  "checkpointEvery=0"
]

describe("Train.train with plugins", () => {
  it("uses the given estimator and reward instead of the recipe's, and recipe.json records them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-plugins-"))
    const inner = subtractGroupMean()
    let calls = 0
    const estimator: AnyAdvantageTransform = {
      ...inner,
      name: "counting-mean",
      update: (scores, state, info) => {
        calls++
        return inner.update(scores, state, info)
      }
    }
    const quarter = () => 0.25
    const recipe = Effect.runSync(Recipe.load(undefined, undefined, tiny))
    await Effect.runPromise(Train.train(recipe, { runDir: dir, plugins: { estimator, reward: quarter } }))
    expect(calls).toBe(2)
    const recorded = JSON.parse(readFileSync(join(dir, "recipe.json"), "utf8"))
    expect(recorded.rl.estimator).toEqual({ kind: "custom", name: "counting-mean" })
    expect(recorded.rl.reward).toEqual({ kind: "custom", name: "quarter" })
    const rl = readFileSync(join(dir, "metrics.jsonl"), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)).filter((r) => r.kind === "rl")
    expect(rl.map((r) => r["critic/rewards/mean"])).toEqual([0.25, 0.25])
    expect(rl.map((r) => r.frac_zero_std_groups)).toEqual([1, 1])
    // Resuming without the values is refused rather than training with the recipe's defaults.
    expect(await errorOfAsync(Train.train(recorded, { runDir: dir, resume: true }))).toMatch(/rl\.estimator: the user estimator \\"counting-mean\\" has no value here/)
  }, 120_000)

  it("a reward that is not a finite number stops the run naming the reward and the problem", async () => {
    const recipe = Effect.runSync(Recipe.load(undefined, undefined, tiny))
    const message = await errorOfAsync(Train.train(recipe, { runDir: mkdtempSync(join(tmpdir(), "duet-plugins-")), plugins: { reward: function broken() { return Number.NaN } } }))
    expect(message).toMatch(/reward: the reward \\"broken\\" gave NaN for problem arithmetic\/train\/\S+ \(completion /)
  }, 120_000)
})
