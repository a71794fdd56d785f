/**
 * Benchmarks that print duet against stock tfjs-wasm side by side, in one process: each case runs
 * its stock version (tfjs's own kernels, via `Engine.withStockKernels`, and the composite ops a
 * model must use there) and duet's version alternately, and reports the median of each and their
 * ratio, so machine load hits both alike. Groups:
 * - gemm: the reference model's GEMM shapes (forward, weight and input gradients, attention) in
 *   GFLOP/s;
 * - kernels: leading-axis Sum, embedding gradient, LayerNorm and GELU forward+backward, AdamW;
 * - train: one training step of the reference GPT (0.81M parameters, B=32, T=64), loss +
 *   gradients + AdamW;
 * - decode: greedy KV-cache decoding, 256 rows, tokens/s.
 * Wired into `duet bench` by the CLI; `node packages/engine/scripts/bench.mjs` runs it standalone.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Tensor1D, Tensor2D } from "@tensorflow/tfjs"
import * as AdamW from "./AdamW.js"
import * as Engine from "./Engine.js"
import * as Ops from "./Ops.js"
import { loadAddon } from "./internal/NativeAddon.js"
import { BenchGpt, referenceSize, type Flavour, type GptSize } from "./internal/BenchGpt.js"

export type Group = "gemm" | "kernels" | "train" | "decode"

export interface Row {
  readonly group: Group
  readonly name: string
  /** Matmul path of the duet side ("duet-gemm", "openblas", "wasm-simd" or "js-fallback"). */
  readonly path: string
  /** Median milliseconds per call. */
  readonly stockMs: number
  readonly duetMs: number
  /** stockMs / duetMs. */
  readonly speedup: number
  /**
   * Median process CPU time per call (all threads). On a shared machine wall time swings with
   * other jobs' load while CPU time does not, so stockCpuMs / duetCpuMs is the steadier ratio (it
   * undercounts a multi-threaded duet side's wall-time gain and counts BLAS spin-waits as work).
   */
  readonly stockCpuMs?: number
  readonly duetCpuMs?: number
  /** For gemm rows: GFLOP/s; for decode rows: tokens/s. */
  readonly stockRate?: number
  readonly duetRate?: number
  readonly rateUnit?: "GFLOP/s" | "tok/s"
}

export interface Report {
  readonly engines: string[]
  readonly rows: Row[]
  readonly reps: number
  readonly host: { readonly cpus: number; readonly node: string }
}

export interface Options {
  /** Groups to run (default all). */
  readonly groups?: ReadonlyArray<Group>
  /** Matmul paths to compare with stock (default: native and openblas where their addons load, and js). */
  readonly paths?: ReadonlyArray<"native" | "openblas" | "js" | "xnnpack">
  /** Timed repetitions per side (default 5; train and decode use fewer, see below). */
  readonly reps?: number
  /** BLAS threads (default: Engine's default). */
  readonly threads?: number
  /** Progress lines (e.g. console.error); default silent. */
  readonly log?: (line: string) => void
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const timeBoth = (f: () => void): { wall: number; cpu: number } => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  f()
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return { wall, cpu: (c.user + c.system) / 1000 }
}

/** Alternates stock and duet runs (after one warm-up each); medians in ms. */
const sideBySide = (
  stock: () => void,
  duet: () => void,
  reps: number
): { stockMs: number; duetMs: number; stockCpuMs: number; duetCpuMs: number } => {
  const runStock = () => Engine.withStockKernels(stock)
  runStock()
  duet()
  const s: Array<{ wall: number; cpu: number }> = []
  const d: Array<{ wall: number; cpu: number }> = []
  for (let i = 0; i < reps; i++) {
    s.push(timeBoth(runStock))
    d.push(timeBoth(duet))
  }
  return {
    stockMs: median(s.map((x) => x.wall)),
    duetMs: median(d.map((x) => x.wall)),
    stockCpuMs: median(s.map((x) => x.cpu)),
    duetCpuMs: median(d.map((x) => x.cpu))
  }
}

/** Runs a function that returns tensors and reads the first back, so the work is complete. */
const settle = (f: () => Tensor | Tensor[]): void => {
  const out = tf.tidy(f)
  const all = Array.isArray(out) ? out : [out]
  all[0]!.dataSync()
  tf.dispose(all)
}

interface GemmCase {
  readonly name: string
  readonly a: number[]
  readonly b: number[]
  readonly transposeA: boolean
  readonly transposeB: boolean
}

/** The reference model's GEMMs at B=32, T=64 (B*T = 2048 rows), C=128, plus two classics. */
export const gemmCases: ReadonlyArray<GemmCase> = [
  { name: "dense fwd (2048x128)·(128x512)", a: [2048, 128], b: [128, 512], transposeA: false, transposeB: false },
  { name: "dense fwd (2048x512)·(512x128)", a: [2048, 512], b: [512, 128], transposeA: false, transposeB: false },
  { name: "weight grad (2048x128)ᵀ·(2048x512)", a: [2048, 128], b: [2048, 512], transposeA: true, transposeB: false },
  { name: "input grad (2048x512)·(128x512)ᵀ", a: [2048, 512], b: [128, 512], transposeA: false, transposeB: true },
  { name: "3-D dense (32x64x128)·(128x512)", a: [32, 64, 128], b: [128, 512], transposeA: false, transposeB: false },
  { name: "attention q·kᵀ (128x64x32)·(128x64x32)ᵀ", a: [128, 64, 32], b: [128, 64, 32], transposeA: false, transposeB: true },
  { name: "attention p·v (128x64x64)·(128x64x32)", a: [128, 64, 64], b: [128, 64, 32], transposeA: false, transposeB: false },
  { name: "tied head (2048x128)·(32x128)ᵀ", a: [2048, 128], b: [32, 128], transposeA: false, transposeB: true },
  { name: "decode dense (256x128)·(128x512)", a: [256, 128], b: [128, 512], transposeA: false, transposeB: false },
  { name: "square 1024³", a: [1024, 1024], b: [1024, 1024], transposeA: false, transposeB: false }
]

const gemmFlops = (c: GemmCase): number => {
  const ar = c.a.length
  const M = c.transposeA ? c.a[ar - 1]! : c.a[ar - 2]!
  const K = c.transposeA ? c.a[ar - 2]! : c.a[ar - 1]!
  const N = c.transposeB ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!
  const batch = Math.max(c.a.slice(0, -2).reduce((x, y) => x * y, 1), c.b.slice(0, -2).reduce((x, y) => x * y, 1))
  return 2 * batch * M * N * K
}

const gemmRows = (path: string, reps: number): Row[] =>
  gemmCases.map((c) => {
    const a = tf.randomNormal(c.a)
    const b = tf.randomNormal(c.b)
    const f = () => settle(() => tf.matMul(a, b, c.transposeA, c.transposeB))
    const r = sideBySide(f, f, c.name.startsWith("square") ? Math.max(3, Math.ceil(reps / 2)) : reps)
    tf.dispose([a, b])
    const fl = gemmFlops(c)
    return {
      group: "gemm",
      name: c.name,
      path,
      ...r,
      speedup: r.stockMs / r.duetMs,
      stockRate: fl / r.stockMs / 1e6,
      duetRate: fl / r.duetMs / 1e6,
      rateUnit: "GFLOP/s"
    }
  })

const kernelRows = (path: string, reps: number): Row[] => {
  const rows: Row[] = []
  const row = (name: string, stock: () => void, duet: () => void) => {
    const r = sideBySide(stock, duet, reps)
    rows.push({ group: "kernels", name, path, ...r, speedup: r.stockMs / r.duetMs })
  }
  const x = tf.randomNormal([2048, 512])
  row("Sum over axis 0 of (2048x512) (bias gradient)", () => settle(() => tf.sum(x, 0)), () => settle(() => tf.sum(x, 0)))

  const wte = tf.randomNormal([32, 128])
  const ids = tf.tensor1d(Int32Array.from({ length: 2048 }, (_, i) => (i * 7) % 32), "int32")
  const dy = tf.randomNormal([2048, 128])
  row(
    "embedding gradient, 2048 ids: oneHot·wte (stock) vs gather (duet)",
    () => settle(() => tf.grad((w: Tensor) => tf.sum(tf.mul(dy, tf.matMul(tf.cast(tf.oneHot(ids, 32), "float32"), w))))(wte)),
    () => settle(() => tf.grad((w: Tensor) => tf.sum(tf.mul(dy, tf.gather(w, ids))))(wte))
  )

  const h = tf.randomNormal([2048, 128])
  const g = tf.ones([128]) as Tensor1D
  const be = tf.zeros([128]) as Tensor1D
  const lnComposite = (t: Tensor) => {
    const mean = tf.mean(t, -1, true)
    const c = tf.sub(t, mean)
    return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-5))), g), be)
  }
  row(
    "LayerNorm fwd+bwd (2048x128)",
    () => settle(() => tf.grads((t: Tensor, gg: Tensor, bb: Tensor) => tf.sum(tf.mul(h, tf.add(tf.mul(lnComposite(t), gg), bb))))([h, g, be])),
    () => settle(() => tf.grads((t: Tensor, gg: Tensor, bb: Tensor) => tf.sum(tf.mul(h, Ops.layerNorm(t, gg as Tensor1D, bb as Tensor1D, 1e-5))))([h, g, be]))
  )
  row(
    "GELU (sigmoid form) fwd+bwd (2048x512)",
    () => settle(() => tf.grad((t: Tensor) => tf.sum(tf.mul(x, tf.mul(t, tf.sigmoid(tf.mul(t, 1.702))))))(x)),
    () => settle(() => tf.grad((t: Tensor) => tf.sum(tf.mul(x, Ops.gelu(t, "sigmoid"))))(x))
  )

  const gpt = new BenchGpt(referenceSize)
  const grads = new Map([...gpt.params].map(([n, p]) => [n, tf.randomNormal(p.shape, 0, 1e-3)] as const))
  const state = AdamW.init(gpt.params)
  const cfg: AdamW.AdamWConfig = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }
  const step = () => {
    AdamW.apply(gpt.params, grads, state, cfg)
  }
  row(`AdamW + global-norm clip, ${gpt.parameterCount()} params`, step, step)
  AdamW.dispose(state)
  gpt.dispose()
  tf.dispose([x, wte, ids, dy, h, g, be, ...grads.values()])
  return rows
}

const batchOf = (size: GptSize, B: number, seed: number): { tokens: Tensor2D; targets: Tensor2D } => {
  const n = B * size.block
  const data = Int32Array.from({ length: n + 1 }, (_, i) => (i * 7 + seed + ((i * i) % 5)) % size.vocab)
  return { tokens: tf.tensor2d(data.subarray(0, n), [B, size.block], "int32"), targets: tf.tensor2d(data.subarray(1), [B, size.block], "int32") }
}

const trainRows = (path: string, reps: number): Row[] => {
  const gpt = new BenchGpt(referenceSize)
  const { tokens, targets } = batchOf(referenceSize, 32, 3)
  const states: Record<Flavour, AdamW.AdamWState> = { stock: AdamW.init(gpt.params), fused: AdamW.init(gpt.params) }
  const step = (flavour: Flavour) => () => {
    gpt.trainStep(tokens, targets, flavour, states[flavour])
  }
  const name = `train step, GPT ${gpt.parameterCount()} params, B=32 T=64`
  const rows: Row[] = []
  const full = sideBySide(step("stock"), step("fused"), reps)
  rows.push({ group: "train", name: `${name} (duet kernels + fused ops)`, path, ...full, speedup: full.stockMs / full.duetMs })
  // What a model gets from duet's kernels alone, before adopting Ops/AdamW/gather.
  const kernelsOnly = timeOnceMedian(step("stock"), reps)
  rows.push({
    group: "train",
    name: `${name} (duet kernels, stock-style ops)`,
    path,
    stockMs: full.stockMs,
    duetMs: kernelsOnly.wall,
    speedup: full.stockMs / kernelsOnly.wall,
    stockCpuMs: full.stockCpuMs,
    duetCpuMs: kernelsOnly.cpu
  })
  AdamW.dispose(states.stock)
  AdamW.dispose(states.fused)
  tf.dispose([tokens, targets])
  gpt.dispose()
  return rows
}

const timeOnceMedian = (f: () => void, reps: number): { wall: number; cpu: number } => {
  f()
  const xs = Array.from({ length: reps }, () => timeBoth(f))
  return { wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) }
}

const decodeRows = (path: string, reps: number): Row[] => {
  const gpt = new BenchGpt(referenceSize)
  const B = 256
  const steps = referenceSize.block
  const r = sideBySide(
    () => {
      gpt.decode(B, steps, "stock")
    },
    () => {
      gpt.decode(B, steps, "fused")
    },
    reps
  )
  gpt.dispose()
  const tokens = B * steps
  return [
    {
      group: "decode",
      name: `greedy decode, ${B} rows x ${steps} tokens (concat cache vs DecodeCache)`,
      path,
      ...r,
      speedup: r.stockMs / r.duetMs,
      stockRate: tokens / (r.stockMs / 1000),
      duetRate: tokens / (r.duetMs / 1000),
      rateUnit: "tok/s"
    }
  ]
}

/** Runs the chosen groups for each matmul path; leaves the engine on the first path given. */
export const run = async (options: Options = {}): Promise<Report> => {
  const groups = options.groups ?? ["gemm", "kernels", "train", "decode"]
  const reps = options.reps ?? 5
  const log = options.log ?? (() => undefined)
  const paths = options.paths ?? [...(["native", "openblas"] as const).filter((kind) => loadAddon(kind).ok), "js" as const]
  const rows: Row[] = []
  const engines: string[] = []
  for (const blas of paths) {
    const info = await Engine.init({ backend: "wasm", blas, ...(options.threads !== undefined ? { threads: options.threads } : {}) })
    engines.push(info.describe())
    log(`bench: ${info.describe()}`)
    for (const group of groups) {
      log(`bench: ${group} (${info.matmul})`)
      if (group === "gemm") rows.push(...gemmRows(info.matmul, reps))
      if (group === "kernels") rows.push(...kernelRows(info.matmul, reps))
      if (group === "train") rows.push(...trainRows(info.matmul, Math.max(1, Math.min(reps, 3))))
      if (group === "decode") rows.push(...decodeRows(info.matmul, Math.max(1, Math.min(reps, 3))))
    }
  }
  if (paths.length > 0) await Engine.init({ backend: "wasm", blas: paths[0]! })
  const os = await import("node:os")
  return { engines, rows, reps, host: { cpus: os.availableParallelism(), node: process.version } }
}

/** GEMM rows only (the `Bench.gemm` the CLI's `duet bench --gemm` prints). */
export const gemm = (options: Omit<Options, "groups"> = {}): Promise<Report> => run({ ...options, groups: ["gemm"] })

const fmt = (x: number, digits = 1): string => (x >= 100 ? x.toFixed(0) : x.toFixed(digits))

/** A plain-text table of a report. */
export const format = (report: Report): string => {
  const lines = [...report.engines.map((e) => `# ${e}`), `# ${report.host.cpus} CPUs, Node ${report.host.node}; medians of ${report.reps} alternating runs (train/decode: up to 3)`]
  lines.push(["group", "path", "case", "stock ms", "duet ms", "speedup", "cpu-time speedup", "stock rate", "duet rate"].join(" | "))
  for (const r of report.rows) {
    const rate = (x: number | undefined) => (x === undefined ? "" : `${fmt(x)} ${r.rateUnit}`)
    const cpu = r.stockCpuMs !== undefined && r.duetCpuMs !== undefined && r.duetCpuMs > 0 ? `${fmt(r.stockCpuMs / r.duetCpuMs)}x` : ""
    lines.push([r.group, r.path, r.name, fmt(r.stockMs, 2), fmt(r.duetMs, 2), `${fmt(r.speedup)}x`, cpu, rate(r.stockRate), rate(r.duetRate)].join(" | "))
  }
  return lines.join("\n")
}
