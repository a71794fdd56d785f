import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Safetensors from "../src/Safetensors.js"

fc.configureGlobal({ seed: 42, numRuns: 100 })

describe("Safetensors", () => {
  it("writes the documented layout (hand-checked bytes)", () => {
    const bytes = Safetensors.encode(new Map([["a", Safetensors.fromArray(Float32Array.from([1.5]), [1])]]))
    const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' // 54 bytes, space-padded to 56
    expect(new DataView(bytes.buffer).getBigUint64(0, true)).toBe(56n)
    expect(new TextDecoder().decode(bytes.subarray(8, 64))).toBe(header + "  ")
    expect(Array.from(bytes.subarray(64))).toEqual([0x00, 0x00, 0xc0, 0x3f]) // 1.5f little-endian
  })

  it("round-trips any float32/int32 tensors bit-exactly, NaN payloads and -0 included", () => {
    const tensor = fc.oneof(
      fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 20 }).map((u) => new Float32Array(Uint32Array.from(u).buffer)),
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }).map((x) => Int32Array.from(x))
    )
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }).filter((s) => s !== "__metadata__"), tensor, { maxKeys: 5 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (named, metadata) => {
        const raw = new Map(Object.entries(named).map(([n, a]) => [n, Safetensors.fromArray(a, [a.length])]))
        const { tensors, metadata: meta } = Safetensors.decode(Safetensors.encode(raw, metadata), "x.safetensors")
        expect([...tensors.keys()].sort()).toEqual([...raw.keys()].sort())
        for (const [n, a] of Object.entries(named)) {
          const back = Safetensors.toArray(tensors.get(n)!)
          expect(back.constructor).toBe(a.constructor)
          expect(Array.from(new Uint8Array(back.buffer))).toEqual(Array.from(new Uint8Array(a.buffer)))
        }
        expect(meta).toEqual(Object.keys(metadata).length > 0 ? metadata : {})
      })
    )
  })

  it("rejects every truncation of a valid file with an error naming the file", () => {
    const bytes = Safetensors.encode(new Map([
      ["w", Safetensors.fromArray(Float32Array.from([1, 2, 3, 4]), [2, 2])],
      ["b", Safetensors.fromArray(Int32Array.from([7]), [1])]
    ]))
    for (let n = 0; n < bytes.length; n++) {
      expect(() => Safetensors.decode(bytes.subarray(0, n), "model.safetensors")).toThrow(/^model\.safetensors: /)
    }
  })

  it("rejects holes, overlaps, bad dtypes and wrong sizes", () => {
    const file = (header: object, data: number) => {
      const json = new TextEncoder().encode(JSON.stringify(header))
      const out = new Uint8Array(8 + json.length + data)
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
      out.set(json, 8)
      return out
    }
    const bad = (h: object, data: number) => () => Safetensors.decode(file(h, data), "f.safetensors")
    expect(bad({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8)).toThrow(/expected 0/)
    expect(bad({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4)).toThrow(/needs 8/)
    expect(bad({ a: { dtype: "Q8", shape: [1], data_offsets: [0, 1] } }, 1)).toThrow(/unknown dtype/)
    expect(bad({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 8)).toThrow(/trailing/)
    expect(bad({ __metadata__: { step: 3 } }, 0)).toThrow(/__metadata__.step/)
  })

  // Only where Python's reference `safetensors` package is importable (not a dependency of duet).
  const python = process.env["SAFETENSORS_PYTHON"] ?? "python3"
  const hasPython = (() => {
    try {
      execFileSync(python, ["-c", "import safetensors.numpy"], { stdio: "ignore" })
      return true
    } catch {
      return false
    }
  })()
  it.skipIf(!hasPython)("is read and written by HF's reference safetensors library (Python)", () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-st-"))
    const ours = join(dir, "ours.safetensors")
    writeFileSync(ours, Safetensors.encode(new Map([
      ["x.weight", Safetensors.fromArray(Float32Array.from([0.1, -2, 3e-38, 1e30, -0, 5, 6]), [7])],
      ["ids", Safetensors.fromArray(Int32Array.from([1, -2, 3, 4]), [2, 2])]
    ]), { format: "pt" }))
    const theirs = join(dir, "theirs.safetensors")
    const script = [
      "import sys, numpy as np",
      "from safetensors.numpy import load_file, save_file",
      "from safetensors import safe_open",
      "t = load_file(sys.argv[1])",
      "assert t['x.weight'].dtype == np.float32 and t['x.weight'].tolist() == np.array([0.1, -2, 3e-38, 1e30, -0.0, 5, 6], np.float32).tolist()",
      "assert t['ids'].dtype == np.int32 and t['ids'].tolist() == [[1, -2], [3, 4]]",
      "assert safe_open(sys.argv[1], 'np').metadata() == {'format': 'pt'}",
      "save_file({'a': np.arange(6, dtype=np.float32).reshape(2, 3), 'b': np.array([9], np.int32)}, sys.argv[2], metadata={'k': 'v'})"
    ].join("\n")
    execFileSync(python, ["-c", script, ours, theirs])
    const { tensors, metadata } = Safetensors.decode(readFileSync(theirs), theirs)
    expect(Array.from(Safetensors.toArray(tensors.get("a")!))).toEqual([0, 1, 2, 3, 4, 5])
    expect(tensors.get("a")!.shape).toEqual([2, 3])
    expect(Array.from(Safetensors.toArray(tensors.get("b")!))).toEqual([9])
    expect(metadata).toEqual({ k: "v" })
  })
})
