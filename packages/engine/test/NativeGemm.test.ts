/**
 * The native addons' GEMM called directly: duet's own GEMM (duet_gemm.h) against a float64
 * reference, and the thread rule's promise: with duet's GEMM, results are bit-identical for any
 * thread count (the split is by shape and every C element is computed the same way); with OpenBLAS,
 * the same thread count gives the same bits.
 */
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { loadAddon, type NativeAddon } from "../src/internal/NativeAddon.js"

type Case = { ta: boolean; tb: boolean; M: number; N: number; K: number; batch: number }

const dims = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 90, max: 300 }))
const caseArb: fc.Arbitrary<Case> = fc.record({
  ta: fc.boolean(),
  tb: fc.boolean(),
  M: dims,
  N: dims,
  K: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 250, max: 600 })),
  batch: fc.integer({ min: 1, max: 3 })
})

const heapFloats = 8 << 20
const heap = new Float32Array(heapFloats)

/** Lays out A, B and C for `c` in the heap (random A, B; C filled with `fill`); returns offsets. */
const layout = (c: Case, seed: number, fill: number) => {
  const aSize = c.M * c.K, bSize = c.K * c.N, cSize = c.M * c.N
  const aOff = 16, bOff = aOff + aSize * c.batch + 16, cOff = bOff + bSize * c.batch + 16
  let s = seed >>> 0 || 1
  for (let i = aOff; i < cOff; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    heap[i] = s / 2 ** 32 - 0.5
  }
  heap.fill(fill, cOff, cOff + cSize * c.batch)
  return { aOff, bOff, cOff, aSize, bSize, cSize, end: cOff + cSize * c.batch }
}

const gemm = (addon: NativeAddon, c: Case, l: ReturnType<typeof layout>, alpha = 1, beta = 0) =>
  addon.sgemm(heap.buffer, c.ta, c.tb, c.M, c.N, c.K, alpha, beta, c.batch, l.aOff, l.aSize, c.ta ? c.M : c.K, l.bOff, l.bSize, c.tb ? c.K : c.N, l.cOff, l.cSize, c.N)

const reference = (c: Case, l: ReturnType<typeof layout>, i: number, r: number, col: number): { value: number; scale: number } => {
  let v = 0, s = 0
  for (let k = 0; k < c.K; k++) {
    const a = heap[l.aOff + i * l.aSize + (c.ta ? k * c.M + r : r * c.K + k)]!
    const b = heap[l.bOff + i * l.bSize + (c.tb ? col * c.K + k : k * c.N + col)]!
    v += a * b
    s += Math.abs(a * b)
  }
  return { value: v, scale: s }
}

const native = loadAddon("native")
const openblas = loadAddon("openblas")

describe.skipIf(!native.ok)("duet's own GEMM (native addon)", () => {
  const addon = native.ok ? native.addon : (undefined as never)
  afterAll(() => addon.setThreads(1))

  it("matches a float64 reference for every transpose, K across blocks, and edge tiles", () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 1 << 30 }), (c, seed) => {
        addon.setThreads(1)
        const l = layout(c, seed, Number.NaN) // C's old contents must not leak in (beta 0)
        gemm(addon, c, l)
        const samples = Math.min(200, c.M * c.N)
        for (let i = 0; i < c.batch; i++) {
          for (let t = 0; t < samples; t++) {
            const r = (t * 7919) % c.M, col = (t * 104729) % c.N
            const want = reference(c, l, i, r, col)
            const got = heap[l.cOff + i * l.cSize + r * c.N + col]!
            if (!(Math.abs(got - want.value) <= 1e-6 * want.scale + 1e-30)) return false
          }
        }
        return true
      }),
      { numRuns: 60 }
    )
  })

  it("gives the same bits with 1, 2 or 3 threads, whatever the split", () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 1 << 30 }), fc.integer({ min: 2, max: 3 }), (c, seed, threads) => {
        addon.setThreads(1)
        const l = layout(c, seed, 0)
        gemm(addon, c, l)
        const one = heap.slice(l.cOff, l.end)
        addon.setThreads(threads, 0) // split every GEMM, however small
        heap.fill(Number.NaN, l.cOff, l.end)
        gemm(addon, c, l)
        const many = heap.subarray(l.cOff, l.end)
        return one.every((v, i) => Object.is(v, many[i]))
      }),
      { numRuns: 80 }
    )
  })

  it("few rows times a large transposed B (the dot-product path): right, and the same bits however split", () => {
    for (const c of [
      { ta: false, tb: true, M: 1, N: 700, K: 400, batch: 1 },
      { ta: false, tb: true, M: 8, N: 1031, K: 577, batch: 1 }, // K off the vector width, N off 4
      { ta: false, tb: true, M: 16, N: 2048, K: 130, batch: 2 }
    ]) {
      addon.setThreads(1)
      const l = layout(c, c.N, Number.NaN)
      gemm(addon, c, l)
      const one = heap.slice(l.cOff, l.end)
      for (let t = 0; t < 300; t++) {
        const i = t % c.batch, r = (t * 7919) % c.M, col = (t * 104729) % c.N
        const want = reference(c, l, i, r, col)
        expect(Math.abs(heap[l.cOff + i * l.cSize + r * c.N + col]! - want.value)).toBeLessThanOrEqual(1e-6 * want.scale)
      }
      addon.setThreads(3, 0)
      heap.fill(Number.NaN, l.cOff, l.end)
      gemm(addon, c, l)
      expect(heap.subarray(l.cOff, l.end).every((v, j) => Object.is(v, one[j]))).toBe(true)
    }
  })

  it("applies alpha and beta", () => {
    const c: Case = { ta: false, tb: true, M: 13, N: 21, K: 300, batch: 2 }
    addon.setThreads(1)
    const l = layout(c, 5, 0)
    gemm(addon, c, l)
    const ab = heap.slice(l.cOff, l.end)
    heap.fill(2, l.cOff, l.end)
    gemm(addon, c, l, 0.5, 3)
    heap.subarray(l.cOff, l.end).forEach((v, i) => expect(v).toBeCloseTo(0.5 * ab[i]! + 6, 5))
  })

  it("names itself", () => {
    expect(addon.config()).toMatch(/^duet-gemm /)
  })
})

describe.skipIf(!openblas.ok)("OpenBLAS addon with duet's thread split", () => {
  const addon = openblas.ok ? openblas.addon : (undefined as never)
  afterAll(() => addon.setThreads(1))

  it("gives the same bits on every run with the same thread count", () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 1 << 30 }), (c, seed) => {
        addon.setThreads(2, 0)
        const l = layout(c, seed, 0)
        gemm(addon, c, l)
        const first = heap.slice(l.cOff, l.end)
        heap.fill(Number.NaN, l.cOff, l.end)
        gemm(addon, c, l)
        return first.every((v, i) => Object.is(v, heap[l.cOff + i]))
      }),
      { numRuns: 30 }
    )
  })
})
