import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Recipe } from "../src/index.js"

const errorOf = (partial: unknown): string => {
  const exit = Effect.runSync(Effect.exit(Recipe.decode(partial)))
  return exit._tag === "Failure" ? JSON.stringify(exit).match(/"message":"((?:[^"\\]|\\.)*)"/)![1]! : ""
}

describe("recipe model: { hf }", () => {
  it("replaces the default GPT's fields (recipe or --set); blockSize defaults to 1024", () => {
    expect(Effect.runSync(Recipe.decode({ model: { hf: "/m" } })).model).toEqual({ hf: "/m", blockSize: 1024 })
    const r = Effect.runSync(Recipe.load(undefined, undefined, ["model.hf=/m", "model.chat=true", "model.blockSize=64"]))
    expect(r.model).toEqual({ hf: "/m", chat: true, blockSize: 64 })
  })
  it("bad fields are named alone, without the GPT's", () => {
    expect(errorOf({ model: { hf: "/m", chat: 3 } })).toBe("recipe: model.chat: Expected boolean")
    expect(errorOf({ model: { hf: 5 } })).toBe("recipe: model.hf: Expected string")
    expect(errorOf({ model: { hf: "/m", nLayer: 2 } })).toBe("recipe: model.nLayer: Expected no excess property")
  })
})
