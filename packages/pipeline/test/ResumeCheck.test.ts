import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Recipe, } from "../src/index.js"
import * as ResumeCheck from "../src/ResumeCheck.js"

const load = (...sets: string[]) => Effect.runSync(Recipe.load(undefined, undefined, sets))
const check = (stored: Recipe.Recipe, now: Recipe.Recipe) =>
  Effect.runSync(ResumeCheck.sameRecipe("runs/x", now, JSON.parse(JSON.stringify(stored)), "runs/x/recipe.json").pipe(Effect.flip, Effect.map((e) => e.message), Effect.orElseSucceed(() => "ok")))

describe("ResumeCheck.sameRecipe", () => {
  it("a resume may add RL steps and move its rollout servers; anything else is refused by name", () => {
    const base = load('rl.sampler={"kind":"http","baseUrls":["http://10.0.0.1:8000/v1"]}')
    expect(check(base, load('rl.sampler={"kind":"http","baseUrls":["http://10.0.0.2:8000/v1"]}'))).toBe("ok")
    expect(check(base, load("rl.steps=900", 'rl.sampler={"kind":"http","baseUrls":["http://10.0.0.1:8000/v1"]}'))).toBe("ok")
    expect(check(base, load("rl.lr=0.5", 'rl.sampler={"kind":"http","baseUrls":["http://10.0.0.1:8000/v1"]}'))).toMatch(/rl\.lr/)
  })
})
