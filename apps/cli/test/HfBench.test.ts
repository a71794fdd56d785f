/**
 * `duet bench --model DIR | --model-config NAME` (built binary) on the tiny `llama-gqa` fixture:
 * the JSON has positive finite tokens/s and memory figures and the fixture's parameter count; bad
 * input names the file, field or preset and exits 2. Never asserts on time values.
 */
import { describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const fixture = fileURLToPath(new URL("../../../packages/model/test/fixtures/hf/llama-gqa", import.meta.url))
// Async, so that the cases run side by side (it.concurrent): most of each is node's start-up.
const duet = (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, "bench", ...args], { env: { ...process.env, ...env } })
    let out = ""
    let err = ""
    p.stdout.on("data", (d: Buffer) => (out += d.toString()))
    p.stderr.on("data", (d: Buffer) => (err += d.toString()))
    p.on("error", reject)
    p.on("close", (code) => resolve({ code, out, err }))
  })
const positive = (x: unknown): boolean => typeof x === "number" && Number.isFinite(x) && x > 0

// llama-gqa: V 320, D 32, 2 layers, 4 heads / 2 kv of 8, SwiGLU 48, untied:
// 2 x 320 x 32 (embed, lm_head) + 2 x (32x32 q + 2 x 16x32 k,v + 32x32 o + 3 x 32x48 + 2 x 32 norms) + 32 = 36,000.
const FIXTURE_PARAMETERS = 2 * 320 * 32 + 2 * (32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 32 * 48 + 2 * 32) + 32

describe("duet bench --model", () => {
  // The default matmul path (duet's native GEMM where it built) and the no-native-code one.
  for (const [path, blas] of [["default path", ""], ["wasm", "0"]] as const) {
    it.concurrent(`${path}: JSON with positive finite train/decode tokens/s and memory, the fixture's parameter count`, async () => {
      const r = await duet(["--model", fixture, "--seq", "32", "--batch", "2", "--decode-batch", "4", "--new", "8", "--steps", "1", "--rounds", "1", "--json"], { DUET_BLAS: blas })
      expect(r.code, r.err).toBe(0)
      const j = JSON.parse(r.out) as Record<string, unknown> & { wasmHeapBytes?: Record<string, unknown>; arithmetic: Record<string, unknown>; failures: unknown[] }
      expect(j.parameters).toBe(FIXTURE_PARAMETERS)
      expect(j.weights).toBe("loaded")
      expect(j.failures).toEqual([])
      for (const f of ["trainTokensPerSec", "trainStepMs", "decodeTokensPerSec", "decodeMs", "peakRssBytes", "trainPeakTensorBytes", "decodePeakTensorBytes"]) {
        expect(positive(j[f]), `${f} = ${String(j[f])}`).toBe(true)
      }
      expect(positive(j.wasmHeapBytes?.["train"])).toBe(true)
      expect(j.arithmetic["weightBytes"]).toBe(4 * FIXTURE_PARAMETERS)
      if (blas === "0") expect(j.matmul).toBe("wasm-simd")
      expect(Number.isFinite(j.trainLoss)).toBe(true)
    }, 60_000)
  }

  it.concurrent("bad input: an unknown preset, a directory without config.json, a bad config field: named, exit 2; a 1.5B model on wasm: refused by the arithmetic", async () => {
    const empty = mkdtempSync(join(tmpdir(), "duet-bench-"))
    const badConfig = join(empty, "bad.json")
    writeFileSync(badConfig, JSON.stringify({ model_type: "llama", vocab_size: 0, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 64 }))
    const [preset, dir, bad, big] = await Promise.all([
      duet(["--model-config", "gpt-17b"]),
      duet(["--model", empty]),
      duet(["--model-config", badConfig]),
      duet(["--model-config", "qwen2.5-1.5b", "--json"])
    ])
    expect(preset.code).toBe(2)
    expect(preset.err).toContain("gpt-17b")
    expect(preset.err).toContain("smollm2-135m")
    expect(dir.code).toBe(2)
    expect(dir.err).toContain(join(empty, "config.json"))
    expect(bad.code).toBe(2)
    expect(bad.err).toContain(`${badConfig}: vocab_size`)
    // 1.5B float32 weights (5.75 GiB) cannot live on the 4 GiB wasm heap: said up front, exit 0.
    expect(big.code, big.err).toBe(0)
    const failures = (JSON.parse(big.out) as { failures: Array<{ phase: string; message: string }> }).failures
    expect(failures[0]).toMatchObject({ phase: "init" })
    expect(failures[0]!.message).toContain("exceed the wasm heap")
  }, 60_000)
})
