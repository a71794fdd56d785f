import { describe, expect, it } from "vitest"
import * as Bench from "../src/Bench.js"
import { Engine } from "@duet/engine"
import "./backend.js"

describe("Bench", () => {
  it("parses the documented flags", () => {
    const { options, json } = Bench.parseArgs(["--dim", "64", "--layers=2", "--heads", "2", "--vocab", "40", "--batch", "8", "--seq", "32", "--json", "--only", "duet", "--no-decode"])
    expect(json).toBe(true)
    expect(options).toMatchObject({ dim: 64, layers: 2, heads: 2, vocab: 40, batch: 8, seq: 32, variants: ["duet"], skipDecode: true })
    expect(() => Bench.parseArgs(["--dim", "x"])).toThrow(/--dim/)
    expect(() => Bench.parseArgs(["--dim", "30", "--heads", "4"])).toThrow(/--heads/)
    expect(() => Bench.parseArgs(["--fast"])).toThrow(/--fast: unknown flag/)
    expect(Bench.parseArgs(["--blas", "js", "--threads", "2"]).engine).toEqual({ blas: "js", threads: 2 })
    expect(() => Bench.parseArgs(["--blas", "mkl"])).toThrow(/--blas/)
  })

  it("with --no-train reports decode only", async () => {
    const r = await Bench.run(
      { dim: 16, layers: 1, heads: 2, vocab: 8, batch: 2, seq: 8, decodeBatch: 3, promptLength: 2, rounds: 1, skipTrain: true },
      async (v) => `test ${v}`
    )
    expect(r.results.every((x) => x.trainStepMs === undefined && x.decodeMs! > 0)).toBe(true)
    const text = Bench.format(r)
    expect(text).toMatch(/paired rounds\): decode \d/)
    expect(text).not.toMatch(/train -x|train: \n/)
  })

  it("cli --json prints one parseable result, run on the engine's stock and duet kernels", async () => {
    const lines: string[] = []
    const tiny = ["--dim", "16", "--layers", "1", "--heads", "2", "--vocab", "8", "--batch", "2", "--seq", "8", "--decode-batch", "3", "--prompt-length", "2", "--train-steps", "1", "--rounds", "1"]
    await Bench.cli([...tiny, "--json"], (l) => lines.push(l))
    expect(lines.length).toBe(1)
    const r = JSON.parse(lines[0]!) as Bench.BenchResult
    expect(r.results.map((x) => x.engine.train.includes("stock tfjs-backend-wasm"))).toEqual([true, false])
    expect(r.speedup!.decode).toBeGreaterThan(0)
    await Engine.init({ backend: "wasm" }) // back to the suite's default
  })

  it("measures both variants on a tiny model and reports tokens/s, ratios and memory", async () => {
    const calls: string[] = []
    const r = await Bench.run(
      { dim: 16, layers: 1, heads: 2, vocab: 8, batch: 2, seq: 8, decodeBatch: 3, promptLength: 2, trainSteps: 1, rounds: 2 },
      async (v, phase) => {
        calls.push(`${v}/${phase}`)
        return `test ${v}`
      }
    )
    expect(calls).toEqual([
      ...["stock/train", "duet/train"], // policies
      ...["stock/train", "duet/train"], // warm-up + profiled step
      ...["stock/train", "duet/train", "duet/train", "stock/train"], // paired rounds, order alternating
      ...["stock/decode", "duet/decode"], // profiled warm-up
      ...["stock/decode", "duet/decode", "duet/decode", "stock/decode"]
    ])
    expect(r.results.map((x) => x.variant)).toEqual(["stock", "duet"])
    for (const x of r.results) {
      expect(x.trainTokensPerSec).toBeGreaterThan(0)
      expect(x.decodeTokensPerSec).toBeGreaterThan(0)
      expect(x.trainPeakTensorBytes).toBeGreaterThan(0)
      expect(x.trainTokensPerSec).toBeCloseTo((2 * 8 * 1000) / x.trainStepMs!, 6)
      expect(x.decodeTokensPerSec).toBeCloseTo((3 * 6 * 1000) / x.decodeMs!, 6)
    }
    // two rounds: the median of the paired ratios is their mean
    expect(r.roundRatios!.train!.length).toBe(2)
    expect(r.speedup!.train).toBeCloseTo((r.roundRatios!.train![0]! + r.roundRatios!.train![1]!) / 2, 12)
    expect(r.speedup!.decode).toBeCloseTo((r.roundRatios!.decode![0]! + r.roundRatios!.decode![1]!) / 2, 12)
    expect(JSON.parse(JSON.stringify(r)).parameters).toBe(r.parameters)
    expect(Bench.format(r)).toMatch(/duet \/ stock \(median of paired rounds\): train/)
  })
})

describe("Bench.rlRun (duet bench --rl)", () => {
  it("parses its flags; presets and explicit dims; bad values name the flag", () => {
    const p = Bench.parseRlArgs(["--size", "ref", "--skip", "--rounds", "2", "--blas", "js", "--json"])
    expect(p.options).toMatchObject({ dim: 128, layers: 4, vocab: 32, seq: 64, skip: true, rounds: 2 })
    expect(p.engine.blas).toBe("js")
    expect(p.json).toBe(true)
    expect(Bench.parseRlArgs(["--dim", "64", "--size", "ref"]).options.dim).toBe(64) // explicit wins
    expect(() => Bench.parseRlArgs(["--size", "huge"])).toThrow(/--size/)
    expect(() => Bench.parseRlArgs(["--max-tokens", "60"])).toThrow(/--max-tokens/)
    expect(() => Bench.parseRlArgs(["--frobnicate"])).toThrow(/--frobnicate/)
    expect(Bench.parseRlArgs(["--variants", "duet:openblas,duet:js"]).options.variants).toEqual(["duet:openblas", "duet:js"])
    expect(() => Bench.parseRlArgs(["--variants", "duet,gpu"])).toThrow(/--variants.*gpu/)
  })

  it("times sample, host and update per round; skipping keeps whole groups only (both rows of a disagreeing pair)", async () => {
    const setups: string[] = []
    const setup = async (v: Bench.RlVariant, phase: Bench.Phase) => {
      setups.push(`${v}/${phase}`)
      return (await Engine.init({ backend: "wasm", kernels: v === "stock" ? "stock" : "duet", blas: v === "duet:js" ? "js" : "auto" })).describe()
    }
    const tiny = { dim: 16, layers: 1, heads: 2, vocab: 8, seq: 16, prompts: 6, group: 2, maxTokens: 3, rounds: 2 }
    const all = await Bench.rlRun({ ...tiny, variants: ["duet"], breakdown: false }, setup)
    const [d] = all.results
    expect(d!.updateRows).toBe(12)
    expect(d!.stepMs).toBeGreaterThan(0)
    expect(d!.phases).toBeUndefined()
    const skipped = await Bench.rlRun({ ...tiny, variants: ["stock", "duet", "duet:js"], skip: true, breakdown: true, rounds: 1 }, setup)
    expect(skipped.results.map((r) => r.variant)).toEqual(["stock", "duet", "duet:js"])
    expect(skipped.relative.stock).toBe(1)
    expect(skipped.relative["duet:js"]).toBeCloseTo(skipped.results[2]!.stepMs / skipped.results[0]!.stepMs, 10) // one round
    for (const r of skipped.results) {
      // parity rewards: a group of 2 has advantage 0 unless its two rollouts differ in parity
      expect(r.updateRows % 2).toBe(0)
      expect(r.updateRows).toBeLessThanOrEqual(12)
      expect(r.phases!.forwardBackward.kernelCalls).toBeGreaterThan(r.phases!.forward.kernelCalls)
      expect(r.dispatchUs).toBeGreaterThan(0)
    }
    expect(skipped.roundRatios).toHaveLength(1)
    expect(Bench.formatRl(skipped)).toMatch(/duet \/ stock \(median of paired rounds\)/)
  })
})
