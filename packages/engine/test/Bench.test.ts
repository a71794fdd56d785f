import { describe, expect, it } from "vitest"
import { Bench, Engine, tf } from "../src/index.js"

describe("Bench", () => {
  it("gemm: one row per case, stock and duet timed side by side, rates consistent with times", async () => {
    await Engine.init({ backend: "wasm" })
    const before = tf.memory().numTensors
    const report = await Bench.gemm({ reps: 1, paths: ["js"] })
    expect(report.rows.map((r) => r.name)).toEqual(Bench.gemmCases.map((c) => c.name))
    for (const r of report.rows) {
      expect(r.path).toBe("wasm-simd")
      expect(r.stockMs).toBeGreaterThan(0)
      expect(r.duetMs).toBeGreaterThan(0)
      expect(r.speedup).toBeCloseTo(r.stockMs / r.duetMs, 10)
      // rate * ms is the case's flop count either side
      expect(r.stockRate! * r.stockMs).toBeCloseTo(r.duetRate! * r.duetMs, 3)
    }
    const text = Bench.format(report)
    expect(text).toContain("stock ms | duet ms | speedup")
    expect(text).toContain("wasm-simd")
    expect(JSON.parse(JSON.stringify(report)).rows).toHaveLength(Bench.gemmCases.length)
    expect(tf.memory().numTensors).toBe(before)
    expect(Engine.info()?.matmul).toBe("wasm-simd")
  })
})
