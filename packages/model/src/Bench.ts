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
  /** Threads for decoding (default: `threads`). */
  readonly decodeThreads?: number
}

/**
 * Parses `--dim N --layers N --heads N --vocab N --batch N --seq N --decode-batch N
 * --prompt-length N --train-steps N --rounds N --only stock|duet --no-decode --no-train
 * --blas auto|native|openblas|js --threads N --decode-threads N --json`.
 */
export const parseArgs = (argv: ReadonlyArray<string>): { options: BenchOptions; engine: EngineChoice; json: boolean } => {
  const o: { -readonly [K in keyof BenchOptions]?: BenchOptions[K] } = {}
  let json = false
  let blas: Engine.BlasChoice = "auto"
  let threads: number | undefined
  let decodeThreads: number | undefined
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
      if (v !== "auto" && v !== "native" && v !== "openblas" && v !== "js") throw new InvalidArgumentError("--blas", `must be auto, native, openblas or js, got ${String(v)}`)
      blas = v
    } else if (flag === "--threads") threads = int(flag, value())
    else if (flag === "--decode-threads") decodeThreads = int(flag, value())
    else if (flag in flagNames) (o as Record<string, number>)[flagNames[flag]!] = int(flag, value())
    else throw new InvalidArgumentError(flag, "unknown flag")
  }
  return { options: makeOptions(o), engine: { blas, ...(threads === undefined ? {} : { threads }), ...(decodeThreads === undefined ? {} : { decodeThreads }) }, json }
}

/**
 * The benchmark's model config and data: a (batch, seq) block of random tokens as inputs and their
 * next tokens as targets, and `decodeBatch` random prompts (seed 1234). Shared with the tools/ scripts
 * that time the same workload in phases.
 */
export const workload = (
  o: Pick<BenchOptions, "vocab" | "seq" | "layers" | "heads" | "dim" | "batch" | "decodeBatch" | "promptLength">
): { config: Gpt.GptConfig; inputs: Int32Array; targets: Int32Array; prompts: Int32Array[] } => {
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
  return { config, inputs, targets, prompts }
}

/** `setup` for `run` on the engine: "stock" = tfjs-wasm's own kernels, "duet" = the engine's. */
export const engineSetup =
  (choice: EngineChoice) =>
  async (variant: Variant, phase: Phase): Promise<string> => {
    const threads = phase === "decode" ? (choice.decodeThreads ?? choice.threads) : choice.threads
    const info = await Engine.init({ backend: "wasm", kernels: variant, blas: choice.blas, ...(threads === undefined ? {} : { threads }) })
    return info.describe()
  }

const kvCacheBytes = (c: Gpt.GptConfig, batch: number): number => 2 * c.nLayer * batch * c.blockSize * c.nEmbd * 4

/**
 * Runs the benchmark. `setup(variant, phase)` activates that variant's kernels for the phase (e.g.
 * fewer BLAS threads for decode) and returns a description of them; it runs before every
 * measurement. Default: the engine (the native GEMM where built), its default threads for both phases.
 */
export const run = async (
  options: Partial<BenchOptions>,
  setup: (variant: Variant, phase: Phase) => Promise<string> = engineSetup({ blas: "auto" }),
  log: (line: string) => void = () => {}
): Promise<BenchResult> => {
  const o = makeOptions(options)
  const { config, inputs, targets, prompts } = workload(o)
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

// ---- RL step benchmark (`duet bench --rl`) ------------------------------------------------------

/**
 * One RL step as the pipeline runs it, on synthetic arithmetic-shaped prompts: sample `prompts x
 * group` rollouts of up to `maxTokens` tokens (KV-cache sampler, temperature 1), a host-side reward
 * and group-relative advantage, then one PPO-clip token-mean update on the sampled rows (old
 * log-probs from the sampler): forward (`sequenceLogprobs`), backward (`lossAndGrads`), AdamW with
 * clipping. With `skip`, rows whose advantage is 0 leave the update (as `rl.skipZeroAdvantage`).
 */
export interface RlOptions {
  readonly dim: number
  readonly layers: number
  readonly heads: number
  readonly vocab: number
  /** Context length (blockSize). */
  readonly seq: number
  /** Distinct prompts per step (256). */
  readonly prompts: number
  /** Rollouts per prompt (2). */
  readonly group: number
  /** Completion tokens per rollout (8). */
  readonly maxTokens: number
  /** Prompt lengths, uniform in [promptMin, promptMax] (4..7: "BOS 12+34=" shaped). */
  readonly promptMin: number
  readonly promptMax: number
  readonly rounds: number
  /**
   * Variants, timed in alternating order each round: "stock" (tfjs-wasm's own kernels, concat KV
   * cache), "duet" (the engine on the chosen `--blas`), or "duet:native" / "duet:openblas" /
   * "duet:js" / "duet:xnnpack" (that path; xnnpack = the older no-addon fallback).
   */
  readonly variants: ReadonlyArray<RlVariant>
  /** Drop zero-advantage rows from the update (false: every row trains). */
  readonly skip: boolean
  /** Also time forward / backward / optimizer apart and count kernels (tf.profile) per variant. */
  readonly breakdown: boolean
}

/** The default recipe's sizes (packages/pipeline Recipe.defaults: L2 H4 C96 T32, 512 rollouts of 8 tokens). */
export type RlVariant = Variant | "duet:native" | "duet:openblas" | "duet:js" | "duet:xnnpack"
const rlVariants: ReadonlyArray<RlVariant> = ["stock", "duet", "duet:native", "duet:openblas", "duet:js", "duet:xnnpack"]

export const rlPresets: Record<"default" | "ref", Partial<RlOptions>> = {
  default: { dim: 96, layers: 2, heads: 4, vocab: 20, seq: 32 },
  ref: { dim: 128, layers: 4, heads: 4, vocab: 32, seq: 64 }
}

export const defaultRlOptions: RlOptions = {
  ...(rlPresets.default as Pick<RlOptions, "dim" | "layers" | "heads" | "vocab" | "seq">),
  prompts: 256,
  group: 2,
  maxTokens: 8,
  promptMin: 4,
  promptMax: 7,
  rounds: 5,
  variants: ["stock", "duet"],
  skip: false,
  breakdown: true
}

export interface RlPhaseProfile {
  /** Median wall ms of this phase alone. */
  readonly ms: number
  /** Kernel calls in one run of the phase (tf.profile). */
  readonly kernelCalls: number
  /** Sum of the kernels' own times (tf.profile kernelTimeMs), ms. */
  readonly kernelMs: number
  /** The five costliest kernels: name, calls, ms. */
  readonly top: ReadonlyArray<readonly [string, number, number]>
}

export interface RlVariantResult {
  readonly variant: RlVariant
  readonly engine: string
  /** Medians over rounds, ms. */
  readonly stepMs: number
  readonly sampleMs: number
  readonly hostMs: number
  readonly updateMs: number
  /** Rows in the update (after skipping). */
  readonly updateRows: number
  /** Per phase, measured apart (`breakdown`). */
  readonly phases?: Readonly<Record<"sample" | "forward" | "forwardBackward" | "optimizer", RlPhaseProfile>>
  /** Cost of one tiny tfjs op (add of two [1,1] tensors), microseconds: the dispatch floor. */
  readonly dispatchUs?: number
}

export interface RlResult {
  readonly options: RlOptions
  readonly parameters: number
  readonly results: ReadonlyArray<RlVariantResult>
  /** stock step time / duet step time, median over rounds, and each round's ratio. */
  readonly speedup?: number
  readonly roundRatios?: ReadonlyArray<number>
  /** Each variant's step time over the first variant's: median of the per-round ratios. */
  readonly relative: Readonly<Record<string, number>>
}

export const makeRlOptions = (overrides: Partial<RlOptions> = {}): RlOptions => {
  const o = { ...defaultRlOptions, ...overrides }
  for (const f of ["dim", "layers", "heads", "vocab", "seq", "prompts", "group", "maxTokens", "promptMin", "promptMax", "rounds"] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 1) throw new InvalidArgumentError(`--${f}`, `must be a positive integer, got ${o[f]}`)
  }
  if (o.dim % o.heads !== 0) throw new InvalidArgumentError("--heads", `must divide --dim (${o.dim}), got ${o.heads}`)
  if (o.promptMin > o.promptMax) throw new InvalidArgumentError("--prompt-min", `must be <= --prompt-max (${o.promptMax})`)
  if (o.promptMax + o.maxTokens > o.seq) throw new InvalidArgumentError("--max-tokens", `prompt (${o.promptMax}) + completion (${o.maxTokens}) exceeds --seq ${o.seq}`)
  return o
}

const rlFlagNames: Record<string, keyof RlOptions> = {
  "--dim": "dim",
  "--layers": "layers",
  "--heads": "heads",
  "--vocab": "vocab",
  "--seq": "seq",
  "--prompts": "prompts",
  "--group": "group",
  "--max-tokens": "maxTokens",
  "--prompt-min": "promptMin",
  "--prompt-max": "promptMax",
  "--rounds": "rounds"
}

/**
 * Parses `--size default|ref --dim N --layers N --heads N --vocab N --seq N --prompts N --group N
 * --max-tokens N --prompt-min N --prompt-max N --rounds N --variants stock,duet,duet:openblas,duet:js
 * (--only is the same) --skip --no-breakdown
 * --blas auto|native|openblas|js --threads N --json`.
 */
export const parseRlArgs = (argv: ReadonlyArray<string>): { options: RlOptions; engine: EngineChoice; json: boolean } => {
  let o: { -readonly [K in keyof RlOptions]?: RlOptions[K] } = {}
  let json = false
  let blas: Engine.BlasChoice = "auto"
  let threads: number | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    const value = () => inline ?? argv[++i]
    const int = (): number => {
      const raw = value()
      const n = Number(raw)
      if (raw === undefined || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(flag, `needs a positive integer, got ${String(raw)}`)
      return n
    }
    if (flag === "--json") json = true
    else if (flag === "--skip") o.skip = true
    else if (flag === "--no-breakdown") o.breakdown = false
    else if (flag === "--size") {
      const v = value()
      if (v !== "default" && v !== "ref") throw new InvalidArgumentError("--size", `must be default or ref, got ${String(v)}`)
      o = { ...rlPresets[v], ...o }
    } else if (flag === "--only" || flag === "--variants") {
      const vs = String(value()).split(",") as RlVariant[]
      for (const v of vs) if (!rlVariants.includes(v)) throw new InvalidArgumentError(flag, `must list ${rlVariants.join(", ")}; got ${v}`)
      o.variants = vs
    } else if (flag === "--blas") {
      const v = value()
      if (v !== "auto" && v !== "native" && v !== "openblas" && v !== "js") throw new InvalidArgumentError("--blas", `must be auto, native, openblas or js, got ${String(v)}`)
      blas = v
    } else if (flag === "--threads") threads = int()
    else if (flag in rlFlagNames) (o as Record<string, number>)[rlFlagNames[flag]!] = int()
    else throw new InvalidArgumentError(flag, "unknown flag")
  }
  // One thread unless asked, as `duet train` (--threads).
  return { options: makeRlOptions(o), engine: { blas, threads: threads ?? 1 }, json }
}

const profilePhase = async (f: () => void, reps: number): Promise<RlPhaseProfile> => {
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    f()
    times.push(performance.now() - t0)
  }
  const info = await tf.profile(f)
  const byName = new Map<string, [number, number]>()
  let kernelMs = 0
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0
    kernelMs += ms
    const e = byName.get(k.name) ?? [0, 0]
    e[0] += 1
    e[1] += ms
    byName.set(k.name, e)
  }
  const top = [...byName.entries()]
    .sort((a, b) => b[1][1] - a[1][1])
    .slice(0, 5)
    .map(([n, [c, ms]]) => [n, c, ms] as const)
  return { ms: median(times), kernelCalls: info.kernels.length, kernelMs, top }
}

const dispatchMicros = (): number => {
  const a = tf.tensor2d([[1]])
  const b = tf.tensor2d([[2]])
  const n = 2000
  const runs: number[] = []
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now()
    tf.tidy(() => {
      for (let i = 0; i < n; i++) tf.add(a, b)
    })
    runs.push(((performance.now() - t0) * 1000) / n)
  }
  tf.dispose([a, b])
  return median(runs)
}

/** Runs the RL step benchmark; `setup` as in `run` (phase "train" for the update, "decode" for sampling). */
/** `setup` for `rlRun` on the engine: "duet:openblas" / "duet:js" pin the path, "duet" takes `choice.blas`. */
export const rlEngineSetup =
  (choice: EngineChoice) =>
  async (variant: RlVariant, phase: Phase): Promise<string> => {
    const [kernels, pinned] = variant.split(":") as [Variant, Engine.BlasChoice | undefined]
    return engineSetup({ ...choice, blas: pinned ?? choice.blas })(kernels, phase)
  }

export const rlRun = async (
  options: Partial<RlOptions>,
  setup: (variant: RlVariant, phase: Phase) => Promise<string> = rlEngineSetup({ blas: "auto", threads: 1 }),
  log: (line: string) => void = () => {}
): Promise<RlResult> => {
  const o = makeRlOptions(options)
  const config = Gpt.makeConfig({ vocabSize: o.vocab, blockSize: o.seq, nLayer: o.layers, nHead: o.heads, nEmbd: o.dim })
  const rng = Rng.seeded(4321)
  // BOS (0), digits-and-operator tokens, each prompt repeated `group` times (one group per prompt).
  const base = Array.from({ length: o.prompts }, () => {
    const len = o.promptMin + rng.int(o.promptMax - o.promptMin + 1)
    return Int32Array.from({ length: len }, (_, j) => (j === 0 ? 0 : 1 + rng.int(o.vocab - 1)))
  })
  const prompts = base.flatMap((p) => Array.from({ length: o.group }, () => p))
  const adamConfig = AdamW.makeConfig({ lr: 1e-4, weightDecay: 0, maxGradNorm: 1 })
  type Run = { policy: Gpt.Policy; state: AdamW.AdamWState; engine: string }
  const runs = new Map<RlVariant, Run>()
  const samples = new Map<RlVariant, { step: number[]; sample: number[]; host: number[]; update: number[]; rows: number }>()
  const breakdowns = new Map<RlVariant, Pick<RlVariantResult, "phases" | "dispatchUs">>()
  const orderOf = (round: number) => (round % 2 === 0 ? o.variants : [...o.variants].reverse())

  const sampleRollouts = (v: RlVariant, seed: number) =>
    Sampler.sample(runs.get(v)!.policy, prompts, { maxTokens: o.maxTokens, temperature: 1, seed, cache: v === "stock" ? "concat" : "inPlace" })
  // Host work: reward (a deterministic function of the tokens, ~half the groups disagree) and
  // group-relative advantages; the update batch (rows kept, old log-probs padded).
  const host = (completions: ReadonlyArray<Sampler.Completion>) => {
    const rewards = completions.map((c) => (c.tokens.reduce((a, t) => a + t, 0) % 2 === 0 ? 1 : 0))
    const adv = rewards.map((r, i) => {
      const g0 = Math.floor(i / o.group) * o.group
      let m = 0
      for (let j = 0; j < o.group; j++) m += rewards[g0 + j]!
      return r - m / o.group
    })
    const keep = adv.map((a, i) => (o.skip && a === 0 ? -1 : i)).filter((i) => i >= 0)
    const rows = keep.length > 0 ? keep : [0]
    const tc = Math.max(1, ...rows.map((i) => completions[i]!.tokens.length))
    const old = new Float32Array(rows.length * tc)
    rows.forEach((i, r) => old.set(completions[i]!.logprobs, r * tc))
    return {
      prompts: rows.map((i) => prompts[i]!),
      completions: rows.map((i) => (completions[i]!.tokens.length > 0 ? completions[i]!.tokens : Int32Array.of(1))),
      advantages: Float32Array.from(rows, (i) => adv[i]!),
      old,
      tc
    }
  }
  type Batch = ReturnType<typeof host>
  const lossOf = (policy: Gpt.Policy, b: Batch) => () =>
    tf.tidy(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(b.prompts, b.completions)
      const [B, Tc] = logprobs.shape
      const old = tf.tensor2d(b.old.subarray(0, B * Tc), [B, Tc])
      const adv = tf.reshape(tf.tensor1d(b.advantages), [B, 1])
      const ratio = tf.exp(tf.sub(logprobs, old))
      const surr = tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 0.8, 1.2), adv))
      return tf.div(tf.neg(tf.sum(tf.mul(surr, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar
    })
  const update = (v: RlVariant, b: Batch) => {
    const r = runs.get(v)!
    const { value, grads } = r.policy.lossAndGrads(lossOf(r.policy, b))
    AdamW.apply(r.policy.params, grads, r.state, adamConfig)
    value.dataSync()
    tf.dispose([value, ...grads.values()])
  }
  try {
    for (const v of o.variants) {
      const engine = await setup(v, "train") // before any tensor: it may pick the backend
      const policy = Gpt.init(config, 7)
      runs.set(v, { policy, state: AdamW.init(policy.params), engine })
      samples.set(v, { step: [], sample: [], host: [], update: [], rows: 0 })
    }
    for (const v of o.variants) {
      // warm-up (kernel setup, heap growth), on the same path as the timed rounds
      await setup(v, "decode")
      const c = sampleRollouts(v, 999)
      await setup(v, "train")
      update(v, host(c))
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const v of orderOf(round)) {
        const s = samples.get(v)!
        await setup(v, "decode")
        const t0 = performance.now()
        const completions = sampleRollouts(v, round + 1)
        const t1 = performance.now()
        const b = host(completions)
        const t2 = performance.now()
        await setup(v, "train")
        const t3 = performance.now()
        update(v, b)
        const t4 = performance.now()
        s.sample.push(t1 - t0)
        s.host.push(t2 - t1)
        s.update.push(t4 - t3)
        s.step.push(t1 - t0 + (t2 - t1) + (t4 - t3))
        s.rows = b.prompts.length
        log(`round ${round + 1} ${v}: step ${s.step.at(-1)!.toFixed(0)} ms (sample ${(t1 - t0).toFixed(0)}, update ${(t4 - t3).toFixed(0)}, ${b.prompts.length} rows)`)
      }
    }
    if (o.breakdown) {
      for (const v of o.variants) {
        const r = runs.get(v)!
        await setup(v, "decode")
        let last: Sampler.Completion[] = []
        const sample = await profilePhase(() => {
          last = sampleRollouts(v, 77)
        }, 3)
        const b = host(last)
        await setup(v, "train")
        const forward = await profilePhase(() => {
          const loss = lossOf(r.policy, b)()
          loss.dataSync()
          loss.dispose()
        }, 3)
        const forwardBackward = await profilePhase(() => {
          const { value, grads } = r.policy.lossAndGrads(lossOf(r.policy, b))
          value.dataSync()
          tf.dispose([value, ...grads.values()])
        }, 3)
        const { value, grads } = r.policy.lossAndGrads(lossOf(r.policy, b))
        value.dispose()
        const optimizer = await profilePhase(() => {
          AdamW.apply(r.policy.params, grads, r.state, adamConfig)
        }, 3)
        tf.dispose([...grads.values()])
        breakdowns.set(v, { phases: { sample, forward, forwardBackward, optimizer }, dispatchUs: dispatchMicros() })
        log(`${v}: breakdown done`)
      }
    }
  } finally {
    for (const r of runs.values()) {
      AdamW.dispose(r.state)
      r.policy.dispose()
    }
  }
  const results: RlVariantResult[] = o.variants.map((v) => {
    const s = samples.get(v)!
    return {
      variant: v,
      engine: runs.get(v)?.engine ?? "",
      stepMs: median(s.step),
      sampleMs: median(s.sample),
      hostMs: median(s.host),
      updateMs: median(s.update),
      updateRows: s.rows,
      ...(breakdowns.get(v) ?? {})
    }
  })
  const st = samples.get("stock")?.step
  const du = samples.get("duet")?.step
  const roundRatios = st && du ? st.map((x, i) => x / du[i]!) : undefined
  const ref = samples.get(o.variants[0]!)!.step
  const relative = Object.fromEntries(o.variants.map((v) => [v, median(samples.get(v)!.step.map((x, i) => x / ref[i]!))]))
  return {
    options: o,
    relative,
    parameters: Gpt.parameterCount(config),
    results,
    ...(roundRatios ? { speedup: median(roundRatios), roundRatios } : {})
  }
}

/** A human-readable table of an RL result. */
export const formatRl = (r: RlResult): string => {
  const o = r.options
  const f = (x: number) => x.toFixed(0)
  const lines = [
    `RL step: GPT ${(r.parameters / 1e6).toFixed(2)}M params (dim ${o.dim}, layers ${o.layers}, heads ${o.heads}, vocab ${o.vocab}, seq ${o.seq}); ${o.prompts} prompts x ${o.group} rollouts of ${o.maxTokens} tokens; skip zero-advantage rows: ${o.skip ? "on" : "off"}; ${o.rounds} paired rounds, medians (ms)`,
    `variant      step   sample    host   update  rows`
  ]
  for (const v of r.results) {
    lines.push(`${v.variant.padEnd(8)} ${f(v.stepMs).padStart(8)} ${f(v.sampleMs).padStart(8)} ${v.hostMs.toFixed(1).padStart(7)} ${f(v.updateMs).padStart(8)} ${String(v.updateRows).padStart(5)}`)
  }
  if (r.speedup !== undefined) lines.push(`duet / stock (median of paired rounds): ${r.speedup.toFixed(2)}x [${r.roundRatios!.map((x) => x.toFixed(1)).join(" ")}]`)
  if (r.results.length > 1) {
    const first = r.results[0]!.variant
    lines.push(`step time relative to ${first} (median of paired rounds): ${r.results.map((v) => `${v.variant} ${r.relative[v.variant]!.toFixed(2)}`).join(", ")}`)
  }
  for (const v of r.results) {
    lines.push(`  ${v.variant}: ${v.engine}`)
    if (v.phases === undefined) continue
    lines.push(`  ${v.variant} phases apart (ms wall / kernel calls / ms in kernels; one tiny op ${v.dispatchUs!.toFixed(1)} us):`)
    for (const [name, p] of Object.entries(v.phases)) {
      const top = p.top.map(([n, c, ms]) => `${n} ${c}x ${ms.toFixed(1)}`).join(", ")
      lines.push(`    ${name.padEnd(16)} ${p.ms.toFixed(1).padStart(8)} ${String(p.kernelCalls).padStart(6)} ${p.kernelMs.toFixed(1).padStart(8)}  top: ${top}`)
    }
  }
  return lines.join("\n")
}

/** The command line (`duet bench --rl` / tools/bench-rl): table or `--json`. */
export const rlCli = async (argv: ReadonlyArray<string>, print: (line: string) => void = console.log): Promise<RlResult> => {
  const { options, engine, json } = parseRlArgs(argv)
  const result = await rlRun(options, rlEngineSetup(engine), json ? () => {} : print)
  print(json ? JSON.stringify(result) : formatRl(result))
  return result
}
