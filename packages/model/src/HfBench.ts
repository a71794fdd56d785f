/**
 * The Hugging Face model benchmark (`duet bench --model DIR | --model-config NAME|FILE`): size and
 * speed of a Llama-family policy on this engine, in one process.
 *
 * - The model: an HF directory (config.json + safetensors, `Hf.load`), or random weights
 *   (`Llama.init`, std 0.02) from a named preset (`presets`: SmolLM2-135M, Qwen2.5-0.5B/1.5B shapes,
 *   no download) or a config.json file.
 * - Decode: `Sampler.sample` of `decodeBatch` rows of `promptLength` random tokens, `newTokens` new
 *   tokens each at temperature 1 with no stop tokens (every row produces them all), with the engine's
 *   in-place KV cache; tokens/s = decodeBatch x newTokens / time, prefill included.
 * - Train: one step = `sequenceLogprobs` (forward) on `batch` rows of `seq` + 1 random tokens (a
 *   1-token prompt and a `seq`-token completion: the forward runs on `seq` positions), token-mean
 *   NLL, backward (`lossAndGrads`), AdamW with clipping at 1.0 (`AdamW.apply`); tokens/s = batch x seq
 *   / step time. The same step as `duet train`'s SFT/RL update, without the RL bookkeeping.
 * - Order: init/load, a warm-up decode under `tf.profile` (peak tensor bytes), `rounds` timed decodes;
 *   then AdamW moments, a warm-up train step under `tf.profile`, `rounds` x `steps` timed steps. Decode
 *   runs first so that a model whose training does not fit (a 0.5B model's gradients and moments on the
 *   4 GiB wasm heap) still reports decode; a failed phase is reported in `failures`, not thrown.
 * - Memory: process peak RSS (`process.resourceUsage().maxRSS`), the wasm heap's size after each phase
 *   (it grows, never shrinks; 4 GiB at most), peak tensor bytes of one step / one decode call, and the
 *   arithmetic of float32 weights, gradients and AdamW moments (4, 4, 8 bytes per parameter).
 *
 * Times are medians; field names match tools/bench-hf/peer.py (the PyTorch peer) so the two compare.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import { Engine } from "@duet/engine"
import { existsSync, readFileSync } from "node:fs"
import { tf } from "./internal/Tfjs.js"
import * as AdamW from "./AdamW.js"
import * as Hf from "./Hf.js"
import * as Llama from "./Llama.js"
import * as Sampler from "./Sampler.js"

/** config.json dicts of well-known shapes (architecture fields only, as published on the Hub). */
export const presets: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  "smollm2-135m": {
    model_type: "llama",
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true
  },
  "qwen2.5-0.5b": {
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true
  },
  "qwen2.5-1.5b": {
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    max_position_embeddings: 131072,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true
  }
}

export const presetNames: ReadonlyArray<string> = Object.keys(presets)

/** Where the model comes from. */
export type Source = { readonly dir: string } | { readonly config: string }

/**
 * A preset name or a config.json path -> the parsed config and its JSON (InvalidArgumentError naming
 * the presets when it is neither; HfError naming the file and field when the file is bad).
 */
export const resolveConfig = (spec: string): { readonly name: string; readonly json: Record<string, unknown>; readonly config: Llama.LlamaConfig } => {
  const preset = presets[spec.toLowerCase()]
  if (preset !== undefined) return { name: spec.toLowerCase(), json: { ...preset }, config: Hf.parseConfig({ ...preset }, `preset ${spec}`) }
  if (!existsSync(spec)) {
    throw new InvalidArgumentError("--model-config", `${JSON.stringify(spec)} is neither a preset (${presetNames.join(", ")}) nor an existing config.json file`)
  }
  let json: unknown
  try {
    json = JSON.parse(readFileSync(spec, "utf8"))
  } catch (e) {
    throw new Hf.HfError(spec, "(file)", `is not JSON (${(e as Error).message})`)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Hf.HfError(spec, "(file)", "is not a JSON object")
  return { name: spec, json: json as Record<string, unknown>, config: Hf.parseConfig(json as Record<string, unknown>, spec) }
}

export interface HfBenchOptions {
  /** Training rows (4). */
  readonly batch: number
  /** Training positions per row (128). */
  readonly seq: number
  /** Decode rows (8). */
  readonly decodeBatch: number
  /** New tokens per decode row (32). */
  readonly newTokens: number
  /** Prompt tokens per decode row (16). */
  readonly promptLength: number
  /** Timed training steps per round (1). */
  readonly steps: number
  /** Timed rounds of each phase (3). */
  readonly rounds: number
  /** Skip the training phase. */
  readonly skipTrain: boolean
  /** Skip the decode phase. */
  readonly skipDecode: boolean
  /** Seed of the random weights, tokens and draws (1). */
  readonly seed: number
}

export const defaultOptions: HfBenchOptions = {
  batch: 4,
  seq: 128,
  decodeBatch: 8,
  newTokens: 32,
  promptLength: 16,
  steps: 1,
  rounds: 3,
  skipTrain: false,
  skipDecode: false,
  seed: 1
}

export const makeOptions = (overrides: Partial<HfBenchOptions> = {}): HfBenchOptions => {
  const o = { ...defaultOptions, ...overrides }
  for (const f of ["batch", "seq", "decodeBatch", "newTokens", "promptLength", "steps", "rounds"] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 1) throw new InvalidArgumentError(`--${f}`, `must be a positive integer, got ${o[f]}`)
  }
  return o
}

export interface HfBenchResult {
  /** The preset name, config file or directory measured. */
  readonly model: string
  /** "random" (Llama.init from a config) or "loaded" (Hf.load of a directory). */
  readonly weights: "random" | "loaded"
  readonly family: Llama.Family
  readonly parameters: number
  readonly options: HfBenchOptions
  /** Engine.describe(): backend, matmul path, threads. */
  readonly engine: string
  /** Who runs matmuls: "openblas", "wasm-simd", ... */
  readonly matmul: string
  readonly threads: number
  /** Llama.init or Hf.load time. */
  readonly initMs: number
  readonly decodeMs?: number
  readonly decodeTokensPerSec?: number
  readonly decodeMsAll?: ReadonlyArray<number>
  /** Peak tensor bytes of one decode call (tf.profile) plus the in-place KV cache's bytes. */
  readonly decodePeakTensorBytes?: number
  readonly trainStepMs?: number
  readonly trainTokensPerSec?: number
  readonly trainStepMsAll?: ReadonlyArray<number>
  /** Token-mean NLL of the last step (ln V for random weights). */
  readonly trainLoss?: number
  /** Peak tensor bytes of one training step (tf.profile), parameters and moments included. */
  readonly trainPeakTensorBytes?: number
  /** Process peak resident set at the end. */
  readonly peakRssBytes: number
  /** wasm heap size after init, decode, train (absent off wasm). */
  readonly wasmHeapBytes?: { readonly init?: number; readonly decode?: number; readonly train?: number }
  /** float32 parameters, their gradients, AdamW's two moments: 4, 4, 8 bytes per parameter. */
  readonly arithmetic: { readonly weightBytes: number; readonly gradBytes: number; readonly adamBytes: number }
  /** Phases that threw (e.g. out of wasm memory), with the error's first line. */
  readonly failures: ReadonlyArray<{ readonly phase: "init" | "decode" | "train"; readonly message: string }>
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const heapBytes = (): number | undefined => {
  const b = tf.getBackend() === "wasm" ? (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }) : undefined
  return b?.wasm?.HEAPU8?.length
}

/** tfjs-wasm's most memory (65536 pages of 64 KiB, wasm32). */
export const WASM_HEAP_MAX = 2 ** 32

const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split("\n")[0]!

/**
 * Runs the benchmark on the engine as it is (call `Engine.init` first; `cli` does). Progress lines
 * go to `log`. Throws only for bad input (a missing file, a bad config); a phase that fails at run
 * time (memory) is recorded in `failures`.
 */
export const run = async (source: Source, overrides: Partial<HfBenchOptions> = {}, log: (line: string) => void = () => {}): Promise<HfBenchResult> => {
  const o = makeOptions(overrides)
  const info = Engine.info()
  const failures: Array<{ phase: "init" | "decode" | "train"; message: string }> = []
  const heap: { init?: number; decode?: number; train?: number } = {}
  const noteHeap = (phase: "init" | "decode" | "train"): void => {
    const h = heapBytes()
    if (h !== undefined) heap[phase] = h
  }
  // The config first, so bad input fails before any work.
  const resolved = "dir" in source ? { name: source.dir, config: Hf.readConfig(source.dir) } : resolveConfig(source.config)
  const config = resolved.config
  const parameters = Llama.parameterCount(config)
  const need = Math.max(o.seq + 1, o.promptLength + o.newTokens)
  if (need > config.blockSize) throw new InvalidArgumentError("--seq", `${need} positions (seq + 1, or prompt + new tokens) exceed max_position_embeddings ${config.blockSize}`)
  log(`${resolved.name}: ${config.family}, ${parameters.toLocaleString("en-US")} parameters; engine ${info?.describe() ?? tf.getBackend()}`)
  const rng = Rng.seeded(o.seed)
  const t0 = performance.now()
  let policy: Llama.Policy | undefined
  // tfjs-wasm's heap stops at 4 GiB, and a tensor allocated past it is not refused: init "succeeds"
  // and the first kernel fails with "memory access out of bounds" (measured: Qwen2.5-1.5B). So the
  // arithmetic decides first: float32 weights (4 bytes per parameter) must fit, and training needs
  // gradients and AdamW's two moments beside them (16 bytes per parameter) before any activation.
  const wasm = tf.getBackend() === "wasm"
  const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`
  if (wasm && 4 * parameters >= WASM_HEAP_MAX) {
    failures.push({ phase: "init", message: `float32 weights (${gib(4 * parameters)}) exceed the wasm heap's ${gib(WASM_HEAP_MAX)}: use tfjs-node(-gpu)` })
  } else {
    try {
      policy = "dir" in source ? (await Hf.load(source.dir)).policy : Llama.init(config, o.seed)
    } catch (e) {
      if (e instanceof Hf.HfError) throw e
      failures.push({ phase: "init", message: firstLine(e) })
    }
  }
  const initMs = performance.now() - t0
  noteHeap("init")
  log(`${"dir" in source ? "load" : "init"}: ${(initMs / 1000).toFixed(1)} s${policy === undefined ? ` FAILED: ${failures[0]!.message}` : ""}`)
  let decode: { ms: number[]; peak: number } | undefined
  let train: { ms: number[]; peak: number; loss: number } | undefined
  if (policy !== undefined) {
    const p = policy
    const V = config.vocabSize
    try {
      if (!o.skipDecode) {
        const prompts = Array.from({ length: o.decodeBatch }, () => Int32Array.from({ length: o.promptLength }, () => rng.int(V)))
        let seed = o.seed
        const once = () => {
          const out = Sampler.sample(p, prompts, { maxTokens: o.newTokens, temperature: 1, seed: seed++ })
          const n = out.reduce((a, c) => a + c.tokens.length, 0)
          if (n !== o.decodeBatch * o.newTokens) throw new Error(`decode produced ${n} tokens, expected ${o.decodeBatch * o.newTokens}`)
        }
        try {
          const kv = 2 * config.numLayers * o.decodeBatch * (o.promptLength + o.newTokens) * config.numAttentionHeads * config.headDim * 4
          const profile = await tf.profile(once) // also the warm-up
          const ms: number[] = []
          for (let r = 0; r < o.rounds; r++) {
            const s = performance.now()
            once()
            ms.push(performance.now() - s)
            log(`decode round ${r + 1}: ${(ms.at(-1)! / 1000).toFixed(2)} s, ${((o.decodeBatch * o.newTokens * 1000) / ms.at(-1)!).toFixed(1)} tok/s`)
          }
          decode = { ms, peak: profile.peakBytes + kv }
        } catch (e) {
          failures.push({ phase: "decode", message: firstLine(e) })
          log(`decode FAILED: ${firstLine(e)}`)
        }
        noteHeap("decode")
      }
      if (!o.skipTrain && wasm && 16 * parameters >= WASM_HEAP_MAX) {
        failures.push({
          phase: "train",
          message: `weights + gradients + AdamW moments (${gib(16 * parameters)}, 16 bytes per parameter) exceed the wasm heap's ${gib(WASM_HEAP_MAX)} before any activation: use tfjs-node(-gpu)`
        })
        log(`train skipped: ${failures.at(-1)!.message}`)
      } else if (!o.skipTrain) {
        let state: AdamW.AdamWState | undefined
        try {
          const prompts = Array.from({ length: o.batch }, () => Int32Array.of(rng.int(V)))
          const completions = Array.from({ length: o.batch }, () => Int32Array.from({ length: o.seq }, () => rng.int(V)))
          const opt = AdamW.makeConfig({ lr: 1e-5 })
          try {
            state = AdamW.init(p.params)
          } catch (e) {
            throw new Error(`AdamW moments (${((8 * parameters) / 2 ** 30).toFixed(2)} GiB): ${firstLine(e)}`)
          }
          const st = state
          let loss = NaN
          const step = () => {
            const { value, grads } = p.lossAndGrads(() =>
              tf.tidy(() => {
                const { logprobs, mask } = p.sequenceLogprobs(prompts, completions)
                return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask))) as tf.Scalar
              })
            )
            AdamW.apply(p.params, grads, st, opt)
            loss = value.dataSync()[0]!
            tf.dispose([value, ...grads.values()])
          }
          const profile = await tf.profile(step) // also the warm-up
          const ms: number[] = []
          for (let r = 0; r < o.rounds; r++) {
            for (let i = 0; i < o.steps; i++) {
              const s = performance.now()
              step()
              ms.push(performance.now() - s)
              log(`train round ${r + 1} step ${i + 1}: ${(ms.at(-1)! / 1000).toFixed(2)} s, ${((o.batch * o.seq * 1000) / ms.at(-1)!).toFixed(1)} tok/s, loss ${loss.toFixed(3)}`)
            }
          }
          train = { ms, peak: profile.peakBytes, loss }
        } catch (e) {
          failures.push({ phase: "train", message: firstLine(e) })
          log(`train FAILED: ${firstLine(e)}`)
        } finally {
          noteHeap("train")
          if (state !== undefined) AdamW.dispose(state)
        }
      }
    } finally {
      p.dispose()
    }
  }
  const d = decode === undefined ? undefined : median(decode.ms)
  const t = train === undefined ? undefined : median(train.ms)
  const hasHeap = heap.init !== undefined || heap.decode !== undefined || heap.train !== undefined
  return {
    model: resolved.name,
    weights: "dir" in source ? "loaded" : "random",
    family: config.family,
    parameters,
    options: o,
    engine: info?.describe() ?? tf.getBackend(),
    matmul: info?.matmul ?? "unknown",
    threads: info?.threads ?? 1,
    initMs,
    ...(decode === undefined || d === undefined
      ? {}
      : { decodeMs: d, decodeTokensPerSec: (o.decodeBatch * o.newTokens * 1000) / d, decodeMsAll: decode.ms, decodePeakTensorBytes: decode.peak }),
    ...(train === undefined || t === undefined
      ? {}
      : { trainStepMs: t, trainTokensPerSec: (o.batch * o.seq * 1000) / t, trainStepMsAll: train.ms, trainLoss: train.loss, trainPeakTensorBytes: train.peak }),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(hasHeap ? { wasmHeapBytes: heap } : {}),
    arithmetic: { weightBytes: 4 * parameters, gradBytes: 4 * parameters, adamBytes: 8 * parameters },
    failures
  }
}

const GiB = (n: number | undefined): string =>
  n === undefined ? "-" : n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`

/** A human-readable summary. */
export const format = (r: HfBenchResult): string => {
  const o = r.options
  const lines = [
    `model     ${r.model} (${r.family}, ${r.weights} weights): ${r.parameters.toLocaleString("en-US")} parameters`,
    `engine    ${r.engine}`,
    `init      ${(r.initMs / 1000).toFixed(1)} s`,
    r.decodeTokensPerSec === undefined
      ? `decode    -`
      : `decode    ${o.decodeBatch} rows x ${o.newTokens} new tokens (prompt ${o.promptLength}, KV cache): ${(r.decodeMs! / 1000).toFixed(2)} s, ${r.decodeTokensPerSec.toFixed(1)} tok/s (median of ${r.decodeMsAll!.length}); peak tensors ${GiB(r.decodePeakTensorBytes)}`,
    r.trainTokensPerSec === undefined
      ? `train     -`
      : `train     ${o.batch} x ${o.seq} tokens, forward + backward + AdamW: ${(r.trainStepMs! / 1000).toFixed(2)} s/step, ${r.trainTokensPerSec.toFixed(1)} tok/s (median of ${r.trainStepMsAll!.length}); loss ${r.trainLoss!.toFixed(3)}; peak tensors ${GiB(r.trainPeakTensorBytes)}`,
    `memory    peak RSS ${GiB(r.peakRssBytes)}` +
      (r.wasmHeapBytes === undefined ? "" : `; wasm heap after init ${GiB(r.wasmHeapBytes.init)}, decode ${GiB(r.wasmHeapBytes.decode)}, train ${GiB(r.wasmHeapBytes.train)} (4 GiB max)`),
    `arithmetic float32 weights ${GiB(r.arithmetic.weightBytes)}, + gradients ${GiB(r.arithmetic.gradBytes)}, + AdamW moments ${GiB(r.arithmetic.adamBytes)} = ${GiB(r.arithmetic.weightBytes + r.arithmetic.gradBytes + r.arithmetic.adamBytes)} before activations`
  ]
  for (const f of r.failures) lines.push(`FAILED    ${f.phase}: ${f.message}`)
  return lines.join("\n")
}

export interface CliOptions extends Partial<HfBenchOptions> {
  /** Matmul path (auto: OpenBLAS when built, else the wasm SIMD kernels; DUET_BLAS=0 forces the latter). */
  readonly blas?: Engine.BlasChoice
  /** BLAS threads (1, as `duet train`). */
  readonly threads?: number
  readonly json?: boolean
}

/** `duet bench --model DIR | --model-config NAME|FILE`: initializes the engine, runs, prints. */
export const cli = async (source: Source, options: CliOptions = {}, print: (line: string) => void = console.log): Promise<HfBenchResult> => {
  const { blas = "auto", threads = 1, json = false, ...rest } = options
  // Bad input first, before the engine starts.
  if ("dir" in source) Hf.readConfig(source.dir)
  else resolveConfig(source.config)
  makeOptions(rest)
  await Engine.init({ backend: "auto", blas, threads })
  const result = await run(source, rest, json ? () => {} : print)
  print(json ? JSON.stringify(result) : format(result))
  return result
}
