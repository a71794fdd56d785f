import { describe, expect, it } from "vitest"
import { InvalidArgumentError, PluginOptions } from "@duet/core"
import { Registry } from "../src/index.js"

describe("the loss registry", () => {
  it("lists every built-in loss once, each declared beside its constructor", () => {
    expect(Registry.names).toEqual(["ppo-clip", "gspo", "dpo"])
    expect(Registry.losses.map((e) => e.family)).toEqual(["policy", "policy", "pairs"])
    expect(() => Registry.entry("ppo")).toThrow(InvalidArgumentError)
    expect(() => Registry.entry("ppo")).toThrow(/expected one of ppo-clip, gspo, dpo/)
  })

  it("builds each loss from its options; bad options name the option and what it accepts", () => {
    const ppo = Registry.entry("ppo-clip")
    if (ppo.family !== "policy") throw new Error("ppo-clip is a policy loss")
    const loss = ppo.make(PluginOptions.parseOptions(ppo, { epsHigh: 0.28, dualClip: false }), {})
    expect(loss.config.name).toBe("ppoClip")
    expect(() => PluginOptions.parseOptions(ppo, { dualClip: "off" })).toThrow(/dualClip: ppo-clip: is "off"; expected a finite number >= 1, or false/)
    const dpo = Registry.entry("dpo")
    expect(() => PluginOptions.parseOptions(dpo, { beta: 0.1 })).toThrow(/variant: dpo: is required/)
    expect(() => PluginOptions.parseOptions(dpo, { variant: "sigmoid", beta: 0.1, labelSmoothing: 0.7 })).toThrow(/<= 0.5/)
    if (dpo.family !== "pairs") throw new Error("dpo is a pair loss")
    expect(dpo.make(PluginOptions.parseOptions(dpo, { variant: "ipo", beta: 0.2 })).config.name).toBe("ipo")
  })
})
