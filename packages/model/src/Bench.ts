/**
 * The model benchmark: training-step tokens/s and decode tokens/s of one GPT, measured for duet's
 * path and for stock tfjs side by side in one process. Each round times both variants back to back
 * (order alternating), so a change of machine load hits both; the speedup is the median over rounds
 * of the paired ratios, the times are medians, and peak tensor memory comes from `tf.profile`.
 *
 * What each variant runs (same weights, same tokens, same seeds):
 * - train step: forward, `tokenLogprobs`, backward (`tf.variableGrads`), AdamW with clipping, on a
 *   (batch, seq) block of random tokens; tokens/s = batch * seq / step time.
 * - decode: `Sampler.sample` of `decodeBatch` rows (default 256) from 8-token prompts to the context
 *   length, temperature 1, no stop tokens; tokens/s = generated tokens / time. "stock" decodes the
 *   plain-tfjs way (KV cache grown by `tf.concat`); "duet" with the preallocated in-place cache.
 * Which kernels are active is up to `setup` (e.g. `Engine.init({ kernels: "stock" | "duet" })`).
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import { Engine } from "@duet/engine"
import { tf } from "./internal/Tfjs.js"
import * as AdamW from "./AdamW.js"
import * as Gpt from "./Gpt.js"
import * as Sampler from "./Sampler.js"

export type Variant = "stock" | "duet"
export type Phase = "train" | "decode"

export interface BenchOptions {
  /** Residual width (128). */
  readonly dim: number
  /** Transformer blocks (4). */
  readonly layers: number
  /** Attention heads (4). */
  readonly heads: number
  /** Vocabulary (32). */
  readonly vocab: number
  /** Training rows (32). */
  readonly batch: number
  /** Context length = training row length (64). */
  readonly seq: number
  /** Decode rows (256). */
  readonly decodeBatch: number
  /** Prompt tokens before decoding to `seq` (8). */
  readonly promptLength: number
  /** Timed training steps per variant and round (1), after a warm-up and a profiled step. */
  readonly trainSteps: number
  /** Rounds; each times every variant back to back, the order alternating (5). */
  readonly rounds: number
  /** Variants to measure (both). */
  readonly variants: ReadonlyArray<Variant>
  /** Skip the decode part. */
  readonly skipDecode: boolean
  /** Skip the training part. */
  readonly skipTrain: boolean
}

export const defaultOptions: BenchOptions = {
  dim: 128,
  layers: 4,
  heads: 4,
  vocab: 32,
  batch: 32,
  seq: 64,
  decodeBatch: 256,
  promptLength: 8,
  trainSteps: 1,
  rounds: 5,
  variants: ["stock", "duet"],
  skipDecode: false,
  skipTrain: false
}

export interface VariantResult {
  readonly variant: Variant
  /** What `setup` reported for each phase (backend, matmul path). */
  readonly engine: Readonly<Record<Phase, string>>
  readonly trainStepMs?: number
  readonly trainTokensPerSec?: number
  readonly decodeMs?: number
  readonly decodeTokensPerSec?: number
  /** Peak bytes held by tensors during one training step (tf.profile). */
  readonly trainPeakTensorBytes?: number
  /** Peak bytes held by tensors during one decode call (tf.profile), plus an in-place KV cache. */
  readonly decodePeakBytes?: number
}

export interface BenchResult {
  readonly options: BenchOptions
  readonly parameters: number
  readonly results: ReadonlyArray<VariantResult>
  /** duet over stock (tokens/s), when both ran: the median over rounds of each round's paired ratio. */
  readonly speedup?: { readonly train?: number; readonly decode?: number }
  /** Each round's ratio stock time / duet time. */
  readonly roundRatios?: { readonly train?: ReadonlyArray<number>; readonly decode?: ReadonlyArray<number> }
  /** Process peak resident set (MB) at the end. */
  readonly maxRssMb: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Options from overrides, checked. */
export const makeOptions = (overrides: Partial<BenchOptions> = {}): BenchOptions => {
  const o = { ...defaultOptions, ...overrides }
  for (const f of ["dim", "layers", "heads", "vocab", "batch", "seq", "decodeBatch", "promptLength", "trainSteps", "rounds"] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 1) throw new InvalidArgumentError(`--${f}`, `must be a positive integer, got ${o[f]}`)
  }
  if (o.dim % o.heads !== 0) throw new InvalidArgumentError("--heads", `must divide --dim (${o.dim}), got ${o.heads}`)
  if (o.promptLength >= o.seq) throw new InvalidArgumentError("--promptLength", `must be < --seq (${o.seq}), got ${o.promptLength}`)
  if (o.vocab < 2) throw new InvalidArgumentError("--vocab", `must be >= 2, got ${o.vocab}`)
  return o
}

const flagNames: Record<string, keyof BenchOptions> = {
  "--dim": "dim",
  "--layers": "layers",
  "--heads": "heads",
  "--vocab": "vocab",
  "--batch": "batch",
  "--seq": "seq",
  "--decode-batch": "decodeBatch",
  "--prompt-length": "promptLength",
  "--train-steps": "trainSteps",
  "--rounds": "rounds"
}

/** How the engine is set up for each variant (see `engineSetup`). */
export interface EngineChoice {
  /** Matmul path for "duet": OpenBLAS addon, pure JS, or auto ("auto"). */
  readonly blas: Engine.BlasChoice
  /** BLAS threads for training (default: the engine's, all cores). */
  readonly threads?: number
  /** BLAS threads for decoding (1: decode-sized GEMMs are fastest on one thread, ENGINE-NOTES). */
  readonly decodeThreads: number
}

/**
 * Parses `--dim N --layers N --heads N --vocab N --batch N --seq N --decode-batch N
 * --prompt-length N --train-steps N --rounds N --only stock|duet --no-decode --no-train
 * --blas auto|openblas|js --threads N --decode-threads N --json`.
 */
export const parseArgs = (argv: ReadonlyArray<string>): { options: BenchOptions; engine: EngineChoice; json: boolean } => {
  const o: { -readonly [K in keyof BenchOptions]?: BenchOptions[K] } = {}
  let json = false
  let blas: Engine.BlasChoice = "auto"
  let threads: number | undefined
  let decodeThreads = 1
  const int = (flag: string, raw: string | undefined): number => {
    const n = Number(raw)
    if (raw === undefined || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(flag, `needs a positive integer, got ${String(raw)}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    const value = () => inline ?? argv[++i]
    if (flag === "--json") json = true
    else if (flag === "--no-decode") o.skipDecode = true
    else if (flag === "--no-train") o.skipTrain = true
    else if (flag === "--only") {
      const v = value()
      if (v !== "stock" && v !== "duet") throw new InvalidArgumentError("--only", `must be stock or duet, got ${String(v)}`)
      o.variants = [v]
    } else if (flag === "--blas") {
      const v = value()
      if (v !== "auto" && v !== "openblas" && v !== "js") throw new InvalidArgumentError("--blas", `must be auto, openblas or js, got ${String(v)}`)
      blas = v
    } else if (flag === "--threads") threads = int(flag, value())
    else if (flag === "--decode-threads") decodeThreads = int(flag, value())
    else if (flag in flagNames) (o as Record<string, number>)[flagNames[flag]!] = int(flag, value())
    else throw new InvalidArgumentError(flag, "unknown flag")
  }
  return { options: makeOptions(o), engine: { blas, ...(threads === undefined ? {} : { threads }), decodeThreads }, json }
}

/** `setup` for `run` on the engine: "stock" = tfjs-wasm's own kernels, "duet" = the engine's. */
export const engineSetup =
  (choice: EngineChoice) =>
  async (variant: Variant, phase: Phase): Promise<string> => {
    const threads = phase === "decode" ? choice.decodeThreads : choice.threads
    const info = await Engine.init({ backend: "wasm", kernels: variant, blas: choice.blas, ...(threads === undefined ? {} : { threads }) })
    return info.describe()
  }

const kvCacheBytes = (c: Gpt.GptConfig, batch: number): number => 2 * c.nLayer * batch * c.blockSize * c.nEmbd * 4

/**
 * Runs the benchmark. `setup(variant, phase)` activates that variant's kernels for the phase (e.g.
 * fewer BLAS threads for decode) and returns a description of them; it runs before every
 * measurement. Default: the engine, OpenBLAS when built, one BLAS thread for decode.
 */
export const run = async (
  options: Partial<BenchOptions>,
  setup: (variant: Variant, phase: Phase) => Promise<string> = engineSetup({ blas: "auto", decodeThreads: 1 }),
  log: (line: string) => void = () => {}
): Promise<BenchResult> => {
  const o = makeOptions(options)
  const config = Gpt.makeConfig({ vocabSize: o.vocab, blockSize: o.seq, nLayer: o.layers, nHead: o.heads, nEmbd: o.dim })
  const rng = Rng.seeded(1234)
  const tokens = Int32Array.from({ length: o.batch * (o.seq + 1) }, () => rng.int(o.vocab))
  const inputs = new Int32Array(o.batch * o.seq)
  const targets = new Int32Array(o.batch * o.seq)
  for (let b = 0; b < o.batch; b++) {
    inputs.set(tokens.subarray(b * (o.seq + 1), b * (o.seq + 1) + o.seq), b * o.seq)
    targets.set(tokens.subarray(b * (o.seq + 1) + 1, (b + 1) * (o.seq + 1)), b * o.seq)
  }
  const prompts = Array.from({ length: o.decodeBatch }, () => Int32Array.from({ length: o.promptLength }, () => rng.int(o.vocab)))
  const samples = new Map<Variant, { engine: Record<Phase, string>; train: number[]; decode: number[]; trainPeak?: number; decodePeak?: number }>()
  for (const v of o.variants) samples.set(v, { engine: { train: "", decode: "" }, train: [], decode: [] })
  const orderOf = (round: number) => (round % 2 === 0 ? o.variants : [...o.variants].reverse())

  // One policy (same seed, same weights) and one optimizer per variant, kept across rounds.
  const firstPhase: Phase = o.skipTrain ? "decode" : "train"
  const runs = new Map<Variant, { policy: Gpt.Policy; state?: AdamW.AdamWState; step?: () => void }>()
  const x = { current: undefined as tf.Tensor2D | undefined }
  const y = { current: undefined as tf.Tensor2D | undefined }
  try {
    for (const v of o.variants) {
      samples.get(v)!.engine[firstPhase] = await setup(v, firstPhase) // before any tensor: it may pick the backend
      runs.set(v, { policy: Gpt.init(config, 7) })
    }
    if (!o.skipTrain) {
      x.current = tf.tensor2d(inputs, [o.batch, o.seq], "int32")
      y.current = tf.tensor2d(targets, [o.batch, o.seq], "int32")
      const opt = AdamW.makeConfig({ lr: 1e-4 })
      for (const v of o.variants) {
        const r = runs.get(v)!
        const state = AdamW.init(r.policy.params)
        r.state = state
        r.step = () => {
          const { value, grads } = r.policy.lossAndGrads(() => tf.neg(tf.mean(r.policy.tokenLogprobs(x.current!, y.current!))) as tf.Scalar)
          AdamW.apply(r.policy.params, grads, state, opt)
          value.dataSync()
          tf.dispose([value, ...grads.values()])
        }
        await setup(v, "train")
        r.step() // warm-up: kernel setup, wasm heap growth
        samples.get(v)!.trainPeak = (await tf.profile(r.step)).peakBytes
      }
      // Paired rounds: each variant's steps run back to back with the other's, alternating order.
      for (let round = 0; round < o.rounds; round++) {
        for (const v of orderOf(round)) {
          const s = samples.get(v)!
          await setup(v, "train")
          for (let i = 0; i < o.trainSteps; i++) {
            const t0 = performance.now()
            runs.get(v)!.step!()
            s.train.push(performance.now() - t0)
          }
          log(`round ${round + 1} ${v}: train step ${median(s.train.slice(-o.trainSteps)).toFixed(1)} ms`)
        }
      }
    }
    if (!o.skipDecode) {
      const decode = (v: Variant, seed: number) =>
        Sampler.sample(runs.get(v)!.policy, prompts, { maxTokens: o.seq - o.promptLength, seed, cache: v === "stock" ? "concat" : "inPlace" })
      for (const v of o.variants) {
        const s = samples.get(v)!
        s.engine.decode = await setup(v, "decode")
        const profile = await tf.profile(() => {
          decode(v, 0) // also the warm-up
        })
        s.decodePeak = profile.peakBytes + (v === "stock" ? 0 : kvCacheBytes(config, o.decodeBatch))
      }
      for (let round = 0; round < o.rounds; round++) {
        for (const v of orderOf(round)) {
          const s = samples.get(v)!
          await setup(v, "decode")
          const t0 = performance.now()
          decode(v, round + 1)
          s.decode.push(performance.now() - t0)
          log(`round ${round + 1} ${v}: decode ${s.decode.at(-1)!.toFixed(0)} ms`)
        }
      }
    }
  } finally {
    for (const r of runs.values()) {
      if (r.state !== undefined) AdamW.dispose(r.state)
      r.policy.dispose()
    }
    tf.dispose([x.current, y.current].filter((t): t is tf.Tensor2D => t !== undefined))
  }

  const generated = o.decodeBatch * (o.seq - o.promptLength)
  const results: VariantResult[] = o.variants.map((v) => {
    const s = samples.get(v)!
    const train = s.train.length > 0 ? median(s.train) : undefined
    const decode = s.decode.length > 0 ? median(s.decode) : undefined
    return {
      variant: v,
      engine: s.engine,
      ...(train === undefined ? {} : { trainStepMs: train, trainTokensPerSec: (o.batch * o.seq * 1000) / train }),
      ...(decode === undefined ? {} : { decodeMs: decode, decodeTokensPerSec: (generated * 1000) / decode }),
      ...(s.trainPeak === undefined ? {} : { trainPeakTensorBytes: s.trainPeak }),
      ...(s.decodePeak === undefined ? {} : { decodePeakBytes: s.decodePeak })
    }
  })
  // Speedups: the median over rounds of the paired ratio stock time / duet time (each round's two
  // measurements are adjacent in time, so a load change mostly cancels).
  const ratios = (phase: Phase): number[] | undefined => {
    const st = samples.get("stock")?.[phase]
    const du = samples.get("duet")?.[phase]
    if (st === undefined || du === undefined || st.length === 0) return undefined
    const k = phase === "train" ? o.trainSteps : 1
    return Array.from({ length: o.rounds }, (_, r) => median(st.slice(r * k, (r + 1) * k)) / median(du.slice(r * k, (r + 1) * k)))
  }
  const train = ratios("train")
  const decode = ratios("decode")
  return {
    options: o,
    parameters: Gpt.parameterCount(config),
    results,
    ...(train || decode
      ? {
          speedup: { ...(train ? { train: median(train) } : {}), ...(decode ? { decode: median(decode) } : {}) },
          roundRatios: { ...(train ? { train } : {}), ...(decode ? { decode } : {}) }
        }
      : {}),
    maxRssMb: process.resourceUsage().maxRSS / 1024
  }
}

/**
 * The command line (`duet bench` / tools/bench-model): parses `argv`, runs on the engine, prints a
 * table (progress lines first) or, with `--json`, one JSON object. Returns the result.
 */
export const cli = async (argv: ReadonlyArray<string>, print: (line: string) => void = console.log): Promise<BenchResult> => {
  const { options, engine, json } = parseArgs(argv)
  const result = await run(options, engineSetup(engine), json ? () => {} : print)
  print(json ? JSON.stringify(result) : format(result))
  return result
}

/** A human-readable table of a result. */
export const format = (r: BenchResult): string => {
  const o = r.options
  const mb = (b?: number) => (b === undefined ? "-" : `${(b / 2 ** 20).toFixed(1)} MB`)
  const num = (x?: number, d = 0) => (x === undefined ? "-" : x.toFixed(d))
  const lines = [
    `GPT ${(r.parameters / 1e6).toFixed(2)}M params (dim ${o.dim}, layers ${o.layers}, heads ${o.heads}, vocab ${o.vocab}); train batch ${o.batch} x seq ${o.seq}; decode batch ${o.decodeBatch}, ${o.promptLength} -> ${o.seq} tokens; ${o.rounds} paired rounds, medians`,
    `variant  train ms/step  train tok/s  decode tok/s  train peak   decode peak`
  ]
  for (const v of r.results) {
    lines.push(
      `${v.variant.padEnd(8)} ${num(v.trainStepMs, 1).padStart(13)} ${num(v.trainTokensPerSec).padStart(12)} ${num(v.decodeTokensPerSec).padStart(13)}  ${mb(v.trainPeakTensorBytes).padStart(9)}  ${mb(v.decodePeakBytes).padStart(11)}`
    )
  }
  if (r.speedup) {
    const list = (xs?: ReadonlyArray<number>) => (xs === undefined ? "" : ` [${xs.map((x) => x.toFixed(1)).join(" ")}]`)
    const parts = (["train", "decode"] as const)
      .filter((k) => r.speedup![k] !== undefined)
      .map((k) => `${k} ${num(r.speedup![k], 2)}x${list(r.roundRatios?.[k])}`)
    lines.push(`duet / stock (median of paired rounds): ${parts.join(", ")}`)
  }
  for (const v of r.results) {
    const { train, decode } = v.engine
    if (train === decode || decode === "" || train === "") lines.push(`  ${v.variant}: ${train || decode}`)
    else lines.push(`  ${v.variant} train: ${train}`, `  ${v.variant} decode: ${decode}`)
  }
  lines.push(`process peak RSS ${r.maxRssMb.toFixed(0)} MB`)
  return lines.join("\n")
}
