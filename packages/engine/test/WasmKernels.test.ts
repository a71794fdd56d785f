import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import { Engine, tf } from "../src/index.js"
import { base64 } from "../src/internal/WasmKernelsBinary.js"
import { assertWasmInternals } from "../src/internal/WasmBackend.js"
import { loadWasmKernels } from "../src/internal/WasmKernels.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bytes = Buffer.from(base64, "base64")

/** Section ids of a wasm binary (LEB128 sizes). */
const sectionIds = (b: Uint8Array): number[] => {
  const ids: number[] = []
  let p = 8
  while (p < b.length) {
    ids.push(b[p++]!)
    let size = 0
    let shift = 0
    for (;;) {
      const x = b[p++]!
      size |= (x & 0x7f) << shift
      shift += 7
      if ((x & 0x80) === 0) break
    }
    p += size
  }
  return ids
}

const hasClang = (): boolean => {
  for (const c of [process.env.CLANG, "clang-14", "clang"]) {
    if (c === undefined) continue
    try {
      if (execFileSync(c, ["--print-targets"], { stdio: "pipe" }).toString().includes("wasm32")) return true
    } catch {}
  }
  return false
}

describe("wasm SIMD kernels (the fresh-machine path)", () => {
  beforeAll(async () => {
    await Engine.init({ backend: "wasm", blas: "js" })
  })

  it("the committed module shares tfjs's memory safely: imports only env.memory, no data section", () => {
    const ids = sectionIds(bytes)
    expect(ids).not.toContain(11) // data
    expect(ids).not.toContain(12) // data count
    const WA = (globalThis as unknown as { WebAssembly: { Module: { new (b: Uint8Array): object; imports(m: object): unknown } } }).WebAssembly
    const imports = WA.Module.imports(new WA.Module(bytes))
    expect(imports).toEqual([{ module: "env", name: "memory", kind: "memory" }])
  })

  it.skipIf(!hasClang() || !existsSync(path.join(root, "native", "duet_wasm.c")))("rebuilds byte for byte from native/duet_wasm.c", () => {
    const out = execFileSync(process.execPath, [path.join(root, "scripts", "build-wasm.mjs"), "--check"], { encoding: "utf8" })
    expect(out).toContain("matches a rebuild")
  })

  it("is what blas js runs, once per backend", () => {
    expect(Engine.info()?.matmul).toBe("wasm-simd")
    const be = assertWasmInternals(tf.backend())
    const a = loadWasmKernels(be)
    expect(a.ok).toBe(true)
    expect(loadWasmKernels(be)).toBe(a)
  })

  it("is deterministic: the same product twice is bit-identical, and rows do not depend on their neighbours", () => {
    const a = tf.randomNormal([37, 300], 0, 1, "float32", 3)
    const b = tf.randomNormal([300, 21], 0, 1, "float32", 4)
    const c1 = tf.matMul(a, b).dataSync()
    const c2 = tf.matMul(a, b).dataSync()
    expect(Buffer.from(c1.buffer).equals(Buffer.from(c2.buffer))).toBe(true)
    // row 5 alone, as a 1-row product: the same bits (summation order depends on K only)
    const row = tf.slice(a, [5, 0], [1, 300])
    const r = tf.matMul(row, b).dataSync()
    expect(Array.from(r)).toEqual(Array.from(c1.subarray(5 * 21, 6 * 21)))
    tf.dispose([a, b, row])
  })
})
