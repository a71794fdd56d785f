/**
 * Float64 references for the kernels under test, written from the definitions (independent of
 * the code under test), plus the floating-point error bound the tolerances are derived from.
 *
 * Bound (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5): a float32 sum
 * of n products, in any order, is within gamma_n * sum |x_i y_i| of the exact value, with
 * gamma_n = n u / (1 - n u) and u = 2^-24. References here are exact to ~1e-16 relative, so
 * |kernel - reference| <= gamma_n * (the same sum over absolute values) is what we assert.
 */
export const u32 = 2 ** -24
export const gamma = (n: number): number => (n * u32) / (1 - n * u32)

export const size = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** numpy broadcast of two batch shapes. */
export const broadcastShape = (a: number[], b: number[]): number[] => {
  const r = Math.max(a.length, b.length)
  const pa = [...new Array<number>(r - a.length).fill(1), ...a]
  const pb = [...new Array<number>(r - b.length).fill(1), ...b]
  return pa.map((x, i) => {
    const y = pb[i]!
    if (x !== y && x !== 1 && y !== 1) throw new Error(`not broadcastable: [${a}] [${b}]`)
    return x === 1 ? y : x
  })
}

/** Flat index into a batch of shape `dims` for the output batch multi-index `idx` (broadcast). */
const batchIndex = (idx: number[], dims: number[]): number => {
  const off = idx.length - dims.length
  let flat = 0
  for (let d = 0; d < dims.length; d++) flat = flat * dims[d]! + (dims[d] === 1 ? 0 : idx[off + d]!)
  return flat
}

const multiIndex = (i: number, dims: number[]): number[] => {
  const idx = new Array<number>(dims.length)
  for (let d = dims.length - 1; d >= 0; d--) {
    idx[d] = i % dims[d]!
    i = Math.floor(i / dims[d]!)
  }
  return idx
}

export interface MatMulCase {
  aShape: number[]
  bShape: number[]
  transposeA: boolean
  transposeB: boolean
}

/**
 * C = op(A) op(B) and the gradients of L = sum(W * C), in float64, with the absolute-value sums
 * and term counts that bound float32 errors. Returns flat arrays in row-major order.
 */
export const matMulReference = (c: MatMulCase, a: Float32Array, b: Float32Array, w: Float32Array) => {
  const { aShape, bShape, transposeA: ta, transposeB: tb } = c
  const ar = aShape.length
  const br = bShape.length
  const M = ta ? aShape[ar - 1]! : aShape[ar - 2]!
  const K = ta ? aShape[ar - 2]! : aShape[ar - 1]!
  const N = tb ? bShape[br - 2]! : bShape[br - 1]!
  const aB = aShape.slice(0, -2)
  const bB = bShape.slice(0, -2)
  const outB = broadcastShape(aB, bB)
  const batch = size(outB)
  const outShape = [...outB, M, N]
  const opA = (base: number, i: number, k: number) => a[base + (ta ? k * M + i : i * K + k)]!
  const opB = (base: number, k: number, j: number) => b[base + (tb ? j * K + k : k * N + j)]!
  const aIdx = (base: number, i: number, k: number) => base + (ta ? k * M + i : i * K + k)
  const bIdx = (base: number, k: number, j: number) => base + (tb ? j * K + k : k * N + j)
  const out = new Float64Array(batch * M * N)
  const outAbs = new Float64Array(batch * M * N)
  const da = new Float64Array(a.length)
  const daAbs = new Float64Array(a.length)
  const db = new Float64Array(b.length)
  const dbAbs = new Float64Array(b.length)
  for (let p = 0; p < batch; p++) {
    const idx = multiIndex(p, outB)
    const ab = batchIndex(idx, aB) * M * K
    const bb = batchIndex(idx, bB) * K * N
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        const o = p * M * N + i * N + j
        const wv = w[o]!
        for (let k = 0; k < K; k++) {
          const x = opA(ab, i, k)
          const y = opB(bb, k, j)
          out[o]! += x * y
          outAbs[o]! += Math.abs(x * y)
          da[aIdx(ab, i, k)]! += wv * y
          daAbs[aIdx(ab, i, k)]! += Math.abs(wv * y)
          db[bIdx(bb, k, j)]! += x * wv
          dbAbs[bIdx(bb, k, j)]! += Math.abs(x * wv)
        }
      }
    }
  }
  const aMult = batch / Math.max(1, size(aB))
  const bMult = batch / Math.max(1, size(bB))
  return {
    outShape,
    out,
    outAbs,
    outTerms: K,
    da,
    daAbs,
    daTerms: N * aMult,
    db,
    dbAbs,
    dbTerms: M * bMult
  }
}

/** Indices where |got - want| > gamma(terms) * abs (empty when within the bound). */
export const outsideBound = (
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  abs: ArrayLike<number>,
  terms: number
): string[] => {
  const bad: string[] = []
  if (got.length !== want.length) return [`length ${got.length} != ${want.length}`]
  const g = gamma(Math.max(1, terms))
  for (let i = 0; i < got.length && bad.length < 5; i++) {
    const err = Math.abs(got[i]! - want[i]!)
    if (!(err <= g * abs[i]!)) bad.push(`[${i}] got ${got[i]} want ${want[i]} err ${err} > bound ${g * abs[i]!}`)
  }
  return bad
}

/** Deterministic pseudo-normal float32 data (xorshift + Box-Muller) for a seed. */
export const randomData = (n: number, seed: number): Float32Array => {
  let s = (seed * 2654435761) >>> 0 || 1
  const next = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return (s + 0.5) / 4294967296
  }
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next())
  return out
}
