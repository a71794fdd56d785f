/**
 * Hugging Face model directories: load a Llama / Qwen2 / Qwen3 checkpoint as a `Llama.Policy` with
 * its `HfTokenizer`, and save a trained one back in the same layout so transformers and vLLM load
 * it unchanged.
 *
 * A directory holds `config.json`, `model.safetensors` or a sharded `model.safetensors.index.json`
 * (+ shards), and optionally `generation_config.json`, `tokenizer.json`, `tokenizer_config.json`,
 * `chat_template.jinja`. Weights may be F32, F16 or BF16; they are widened to float32 for compute,
 * and `save` writes each tensor back in the dtype it was loaded in (or F32 by choice), under the same
 * names, with the loaded config.json. Everything is checked before any tensor is made: an unknown
 * `model_type`, an unsupported option, a missing tensor or a shape mismatch fails with `HfError`
 * naming the file and the field.
 */
import { existsSync, readFileSync } from "node:fs"
import { mkdir, open, readFile, rename, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { randomBytes } from "node:crypto"
import { DuetInputError } from "@duet/core"
import { tf } from "./internal/Tfjs.js"
import * as Llama from "./Llama.js"
import * as Safetensors from "./Safetensors.js"
import { HfTokenizer } from "./HfTokenizer.js"

/** A file of an HF directory is missing, malformed or unsupported; `file` is its path, `field` what is wrong. */
export class HfError extends DuetInputError {
  readonly _tag = "HfError" as const
  constructor(
    readonly file: string,
    readonly field: string,
    readonly detail: string
  ) {
    super(`${file}: ${field}: ${detail}`)
    this.name = "HfError"
  }
}

export const CONFIG_FILE = "config.json"
export const WEIGHTS_FILE = "model.safetensors"
export const INDEX_FILE = "model.safetensors.index.json"

export const SUPPORTED_MODEL_TYPES: ReadonlyArray<Llama.Family> = ["llama", "qwen2", "qwen3"]

const readJson = (path: string, field = "(file)"): Record<string, unknown> => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (e) {
    throw new HfError(path, field, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  try {
    const v: unknown = JSON.parse(text)
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object")
    return v as Record<string, unknown>
  } catch (e) {
    throw new HfError(path, field, `is not a JSON object (${(e as Error).message})`)
  }
}

const readJsonIfPresent = (path: string): Record<string, unknown> | undefined => (existsSync(path) ? readJson(path) : undefined)

/**
 * The LlamaConfig of a parsed config.json, with HF's per-family defaults. Reads both the
 * transformers 5 form (`rope_parameters: { rope_type, rope_theta, ... }`) and the older one
 * (`rope_theta` + `rope_scaling: { type | rope_type, ... }`).
 */
export const parseConfig = (json: Record<string, unknown>, file = CONFIG_FILE): Llama.LlamaConfig => {
  const fail = (field: string, detail: string): never => {
    throw new HfError(file, field, detail)
  }
  const modelType = json["model_type"]
  if (typeof modelType !== "string" || !(SUPPORTED_MODEL_TYPES as ReadonlyArray<string>).includes(modelType)) {
    fail("model_type", `${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`)
  }
  const family = modelType as Llama.Family
  const int = (field: string, fallback?: number): number => {
    const v = json[field] ?? fallback
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) return fail(field, `must be a positive integer, got ${JSON.stringify(json[field])}`)
    return v
  }
  const num = (field: string, fallback: number, obj: Record<string, unknown> = json, prefix = ""): number => {
    const v = obj[field] ?? fallback
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(prefix + field, `must be a number, got ${JSON.stringify(obj[field])}`)
    return v
  }
  const bool = (field: string, fallback: boolean): boolean => {
    const v = json[field] ?? fallback
    if (typeof v !== "boolean") return fail(field, `must be a boolean, got ${JSON.stringify(json[field])}`)
    return v
  }
  const act = json["hidden_act"] ?? "silu"
  if (act !== "silu") fail("hidden_act", `${JSON.stringify(act)} is not supported (silu is)`)
  if (json["use_sliding_window"] === true) fail("use_sliding_window", "sliding-window attention is not supported")
  if (json["pretraining_tp"] !== undefined && json["pretraining_tp"] !== 1) fail("pretraining_tp", `must be 1, got ${JSON.stringify(json["pretraining_tp"])}`)
  const hiddenSize = int("hidden_size")
  const numAttentionHeads = int("num_attention_heads")
  const headDim = int("head_dim", hiddenSize / numAttentionHeads)
  // rope: transformers 5 nests theta and scaling in rope_parameters; older configs split them
  const ropeField = json["rope_parameters"] !== undefined ? "rope_parameters" : "rope_scaling"
  const rope = (json[ropeField] ?? {}) as Record<string, unknown>
  if (typeof rope !== "object" || rope === null) fail(ropeField, "must be an object")
  const ropeTheta = ropeField === "rope_parameters" && rope["rope_theta"] !== undefined ? num("rope_theta", 10000, rope, `${ropeField}.`) : num("rope_theta", 10000)
  const ropeType = rope["rope_type"] ?? rope["type"] ?? "default"
  const partial = rope["partial_rotary_factor"] ?? json["partial_rotary_factor"] ?? 1
  if (partial !== 1) fail(`${ropeField}.partial_rotary_factor`, `partial rotary embeddings are not supported, got ${JSON.stringify(partial)}`)
  let ropeScaling: Llama.RopeScaling
  if (ropeType === "default") ropeScaling = { type: "default" }
  else if (ropeType === "linear") ropeScaling = { type: "linear", factor: num("factor", NaN, rope, `${ropeField}.`) }
  else if (ropeType === "llama3") {
    ropeScaling = {
      type: "llama3",
      factor: num("factor", NaN, rope, `${ropeField}.`),
      lowFreqFactor: num("low_freq_factor", NaN, rope, `${ropeField}.`),
      highFreqFactor: num("high_freq_factor", NaN, rope, `${ropeField}.`),
      originalMaxPositionEmbeddings: num("original_max_position_embeddings", NaN, rope, `${ropeField}.`)
    }
  } else return fail(`${ropeField}.rope_type`, `${JSON.stringify(ropeType)} is not supported (default, linear, llama3 are)`)
  const attentionBias = bool("attention_bias", false)
  try {
    return Llama.makeConfig({
      family,
      vocabSize: int("vocab_size"),
      blockSize: int("max_position_embeddings"),
      hiddenSize,
      intermediateSize: int("intermediate_size"),
      numLayers: int("num_hidden_layers"),
      numAttentionHeads,
      numKeyValueHeads: int("num_key_value_heads", numAttentionHeads),
      headDim,
      rmsNormEps: num("rms_norm_eps", 1e-6),
      ropeTheta,
      ropeScaling,
      tieWordEmbeddings: bool("tie_word_embeddings", false),
      qkvBias: family === "qwen2" ? true : attentionBias,
      oBias: family === "qwen2" ? false : attentionBias,
      mlpBias: family === "llama" ? bool("mlp_bias", false) : false,
      qkNorm: family === "qwen3"
    })
  } catch (e) {
    return fail("(config)", (e as Error).message)
  }
}

/** The parsed config.json of a model directory (HfError naming the file and field when it is bad or unsupported). */
export const readConfig = (dir: string): Llama.LlamaConfig => {
  const path = join(dir, CONFIG_FILE)
  return parseConfig(readJson(path), path)
}

/** Where each tensor lives: one file, or the shards a `model.safetensors.index.json` names. */
const weightFiles = (dir: string): { files: string[]; index?: string } => {
  const single = join(dir, WEIGHTS_FILE)
  const index = join(dir, INDEX_FILE)
  if (existsSync(single)) return { files: [single] }
  if (existsSync(index)) {
    const map = readJson(index, "weight_map")["weight_map"]
    if (typeof map !== "object" || map === null) throw new HfError(index, "weight_map", "missing or not an object")
    const shards = [...new Set(Object.values(map as Record<string, unknown>))]
    for (const s of shards) if (typeof s !== "string" || s.includes("/") || s.includes("\\")) throw new HfError(index, "weight_map", `bad shard name ${JSON.stringify(s)}`)
    return { files: (shards as string[]).map((s) => join(dir, s)), index }
  }
  throw new HfError(join(dir, WEIGHTS_FILE), "(file)", `no ${WEIGHTS_FILE} nor ${INDEX_FILE} in ${dir}`)
}

const f16ToF32 = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f === 0 ? s * Infinity : NaN
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** Float32 values of an F32, F16 or BF16 tensor. */
export const toFloat32 = (t: Safetensors.RawTensor, file: string, name: string): Float32Array => {
  const n = t.shape.reduce((a, b) => a * b, 1)
  const copy = new Uint8Array(t.bytes.length)
  copy.set(t.bytes)
  if (t.dtype === "F32") return new Float32Array(copy.buffer)
  const half = new Uint16Array(copy.buffer)
  const out = new Float32Array(n)
  if (t.dtype === "BF16") {
    const bits = new Uint32Array(out.buffer)
    for (let i = 0; i < n; i++) bits[i] = half[i]! << 16
  } else if (t.dtype === "F16") for (let i = 0; i < n; i++) out[i] = f16ToF32(half[i]!)
  else throw new HfError(file, name, `dtype ${t.dtype} is not supported for weights (F32, F16, BF16 are)`)
  return out
}

/** Float32 values stored as `dtype` (round to nearest even, as torch's `.to(dtype)`). */
export const fromFloat32 = (data: Float32Array, shape: ReadonlyArray<number>, dtype: "F32" | "F16" | "BF16"): Safetensors.RawTensor => {
  if (dtype === "F32") return Safetensors.fromArray(data, shape)
  const out = new Uint16Array(data.length)
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  if (dtype === "BF16") {
    for (let i = 0; i < data.length; i++) {
      const b = bits[i]!
      if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) out[i] = 0x7fc0 // NaN
      else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16
    }
  } else {
    for (let i = 0; i < data.length; i++) out[i] = f32ToF16(data[i]!, bits[i]!)
  }
  return { dtype, shape: [...shape], bytes: new Uint8Array(out.buffer) }
}

const f32ToF16 = (x: number, b: number): number => {
  const sign = (b >>> 16) & 0x8000
  if (Number.isNaN(x)) return 0x7e00
  const a = Math.abs(x)
  if (a >= 65520) return sign | 0x7c00 // overflow (65520 rounds up to inf)
  if (a < 2 ** -24 / 2) return sign // underflow to signed zero
  if (a < 2 ** -14) {
    // subnormal: units of 2^-24, round half to even
    const q = a / 2 ** -24
    let r = Math.round(q)
    if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-12 && r % 2 === 1) r -= 1
    return sign | r
  }
  const e = Math.floor(Math.log2(a))
  let m = a / 2 ** e - 1 // [0, 1)
  const q = m * 1024
  let r = Math.round(q)
  if (q - Math.trunc(q) === 0.5 && r % 2 === 1) r -= 1
  let exp = e + 15
  if (r === 1024) {
    r = 0
    exp += 1
  }
  if (exp >= 31) return sign | 0x7c00
  m = r
  return sign | (exp << 10) | m
}

/** What `load` read besides the weights: enough for `save` to write the same layout back. */
export interface Source {
  readonly dir: string
  /** config.json as read (written back unchanged, but for `dtype` when saving as F32). */
  readonly configJson: Record<string, unknown>
  /** Each parameter's stored dtype. */
  readonly dtypes: ReadonlyMap<string, Safetensors.Dtype>
  readonly generationConfig?: Record<string, unknown>
}

export interface Loaded {
  readonly policy: Llama.Policy
  /** Present when the directory has a tokenizer.json. */
  readonly tokenizer?: HfTokenizer
  readonly source: Source
}

/** Tensors HF checkpoints may carry that the model does not use. */
const IGNORED = /(^|\.)rotary_emb\.inv_freq$/

/**
 * Reads config.json and every weight, checks names and shapes against the config, and returns the
 * float32 tensors by HF name (the caller disposes them) with each one's stored dtype.
 */
export const readWeights = async (dir: string): Promise<{ config: Llama.LlamaConfig; configJson: Record<string, unknown>; tensors: Map<string, tf.Tensor>; dtypes: Map<string, Safetensors.Dtype> }> => {
  const configPath = join(dir, CONFIG_FILE)
  const configJson = readJson(configPath)
  const config = parseConfig(configJson, configPath)
  const expected = new Map(Llama.parameterShapes(config).map(([n, s]) => [n, s]))
  const { files, index } = weightFiles(dir)
  const raw = new Map<string, { t: Safetensors.RawTensor; file: string }>()
  for (const file of files) {
    let bytes: Uint8Array
    try {
      bytes = await readFile(file)
    } catch (e) {
      throw new HfError(index ?? file, "weight_map", `shard ${basename(file)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
    }
    for (const [name, t] of Safetensors.decode(bytes, file).tensors) {
      if (IGNORED.test(name)) continue
      if (config.tieWordEmbeddings && name === "lm_head.weight") continue // tied: the embedding is the head
      const want = expected.get(name)
      if (want === undefined) throw new HfError(file, name, `unexpected tensor for a ${config.family} config (${configPath})`)
      if (t.shape.join(",") !== want.join(",")) throw new HfError(file, name, `shape [${t.shape}] != [${want}] expected from ${configPath}`)
      if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") throw new HfError(file, name, `dtype ${t.dtype} is not supported (F32, F16, BF16 are)`)
      raw.set(name, { t, file })
    }
  }
  for (const name of expected.keys()) if (!raw.has(name)) throw new HfError(index ?? files[0]!, name, `missing tensor (expected shape [${expected.get(name)}] from ${configPath})`)
  const tensors = new Map<string, tf.Tensor>()
  const dtypes = new Map<string, Safetensors.Dtype>()
  for (const [name, { t, file }] of raw) {
    tensors.set(name, tf.tensor(toFloat32(t, file, name), [...t.shape], "float32"))
    dtypes.set(name, t.dtype)
  }
  return { config, configJson, tensors, dtypes }
}

/** The tokenizer of a directory (tokenizer.json + tokenizer_config.json, chat template, special ids). */
export const loadTokenizer = (dir: string): HfTokenizer => {
  const tokenizerJson = readJson(join(dir, "tokenizer.json"))
  const templatePath = join(dir, "chat_template.jinja")
  const chatTemplate = existsSync(templatePath) ? readFileSync(templatePath, "utf8") : undefined
  const modelConfig = readJsonIfPresent(join(dir, CONFIG_FILE))
  const generationConfig = readJsonIfPresent(join(dir, "generation_config.json"))
  return new HfTokenizer({
    tokenizerJson,
    tokenizerConfig: readJsonIfPresent(join(dir, "tokenizer_config.json")) ?? {},
    dir,
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
    ...(modelConfig !== undefined ? { modelConfig } : {}),
    ...(generationConfig !== undefined ? { generationConfig } : {})
  })
}

export interface LoadOptions {
  /** Use at most this many positions (a run's context length) instead of max_position_embeddings. */
  readonly blockSize?: number
}

/** Loads an HF directory: the policy (float32 Variables) and, when present, its tokenizer. */
export const load = async (dir: string, options: LoadOptions = {}): Promise<Loaded> => {
  const { config, configJson, tensors, dtypes } = await readWeights(dir)
  try {
    const tokenizer = existsSync(join(dir, "tokenizer.json")) ? loadTokenizer(dir) : undefined
    const policy = Llama.fromParams(options.blockSize === undefined ? config : { ...config, blockSize: Math.min(config.blockSize, options.blockSize) }, tensors)
    const generationConfig = readJsonIfPresent(join(dir, "generation_config.json"))
    return { policy, ...(tokenizer !== undefined ? { tokenizer } : {}), source: { dir, configJson, dtypes, ...(generationConfig !== undefined ? { generationConfig } : {}) } }
  } finally {
    for (const t of tensors.values()) t.dispose()
  }
}

/** The config.json transformers writes for a config (used when saving a policy made by `Llama.init`). */
export const configJson = (c: Llama.LlamaConfig): Record<string, unknown> => ({
  architectures: [{ llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", qwen3: "Qwen3ForCausalLM" }[c.family]],
  model_type: c.family,
  vocab_size: c.vocabSize,
  max_position_embeddings: c.blockSize,
  hidden_size: c.hiddenSize,
  intermediate_size: c.intermediateSize,
  num_hidden_layers: c.numLayers,
  num_attention_heads: c.numAttentionHeads,
  num_key_value_heads: c.numKeyValueHeads,
  head_dim: c.headDim,
  hidden_act: "silu",
  rms_norm_eps: c.rmsNormEps,
  tie_word_embeddings: c.tieWordEmbeddings,
  ...(c.family === "qwen2" ? {} : { attention_bias: c.qkvBias }),
  ...(c.family === "llama" ? { mlp_bias: c.mlpBias } : {}),
  rope_theta: c.ropeTheta,
  rope_scaling:
    c.ropeScaling.type === "default"
      ? null
      : c.ropeScaling.type === "linear"
        ? { rope_type: "linear", factor: c.ropeScaling.factor }
        : {
            rope_type: "llama3",
            factor: c.ropeScaling.factor,
            low_freq_factor: c.ropeScaling.lowFreqFactor,
            high_freq_factor: c.ropeScaling.highFreqFactor,
            original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings
          },
  torch_dtype: "float32"
})

export interface SaveOptions {
  /** "source" (default): each tensor in the dtype it was loaded in; "F32": everything float32. */
  readonly dtype?: "source" | "F32" | "BF16" | "F16"
  /** What `load` returned; without it the config is written from the policy's and tensors are F32. */
  readonly source?: Source
  /** Split into shards of at most this many bytes with an index (default: one file). */
  readonly maxShardBytes?: number
  /** Copy these files from the source directory too (default: the tokenizer and generation files present). */
  readonly copyFiles?: ReadonlyArray<string>
  /**
   * Copy the tokenizer and generation files from this directory instead of `source.dir` (a policy
   * loaded from somewhere else, e.g. a run checkpoint, saved with its original model's files).
   */
  readonly filesFrom?: string
  /** More files to write into the directory in the same atomic step (name -> bytes), e.g. duet's optimizer state. */
  readonly extraFiles?: ReadonlyMap<string, Uint8Array>
}

const DTYPE_NAMES: Record<string, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" }
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json", "generation_config.json"]

/**
 * Writes `policy` as an HF directory: config.json, model.safetensors (or shards + index), and the
 * source's tokenizer/generation files. Staged in a sibling temp directory and renamed into place,
 * so a crash never leaves a half-written checkpoint at `dir`; an existing `dir` is replaced.
 */
export const save = async (dir: string, policy: Llama.Policy, options: SaveOptions = {}): Promise<void> => writeDirAtomically(dir, await layout(dir, policy, options))

/** The files `save` writes (name -> bytes), without writing them; `dir` only names them in errors. */
export const layout = async (dir: string, policy: Llama.Policy, options: SaveOptions = {}): Promise<Map<string, Uint8Array>> => {
  const src = options.source
  const want = options.dtype ?? "source"
  const tensors = new Map<string, Safetensors.RawTensor>()
  for (const [name, p] of policy.params) {
    const dtype = want === "source" ? ((src?.dtypes.get(name) ?? "F32") as "F32" | "F16" | "BF16") : want
    tensors.set(name, fromFloat32((await p.data()) as Float32Array, p.shape, dtype))
  }
  const cfg = { ...(src?.configJson ?? configJson(policy.config)) }
  const dtypesUsed = new Set([...tensors.values()].map((t) => t.dtype))
  if (dtypesUsed.size === 1) {
    const name = DTYPE_NAMES[[...dtypesUsed][0]!]!
    if ("dtype" in cfg || !("torch_dtype" in cfg)) cfg["dtype"] = name
    if ("torch_dtype" in cfg) cfg["torch_dtype"] = name
  }
  const files = new Map<string, Uint8Array>()
  const metadata = { format: "pt" }
  const max = options.maxShardBytes
  const total = [...tensors.values()].reduce((n, t) => n + t.bytes.length, 0)
  if (max === undefined || total <= max) files.set(WEIGHTS_FILE, Safetensors.encode(tensors, metadata))
  else {
    const shards: Array<Map<string, Safetensors.RawTensor>> = [new Map()]
    let size = 0
    for (const [name, t] of tensors) {
      if (size > 0 && size + t.bytes.length > max) {
        shards.push(new Map())
        size = 0
      }
      shards[shards.length - 1]!.set(name, t)
      size += t.bytes.length
    }
    const n = shards.length
    const weightMap: Record<string, string> = {}
    shards.forEach((shard, i) => {
      const file = `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`
      for (const name of shard.keys()) weightMap[name] = file
      files.set(file, Safetensors.encode(shard, metadata))
    })
    files.set(INDEX_FILE, new TextEncoder().encode(JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + "\n"))
  }
  files.set(CONFIG_FILE, new TextEncoder().encode(JSON.stringify(cfg, null, 2) + "\n"))
  const filesFrom = options.filesFrom ?? src?.dir
  if (filesFrom !== undefined) {
    for (const f of options.copyFiles ?? TOKENIZER_FILES) {
      const from = join(filesFrom, f)
      if (existsSync(from)) files.set(f, await readFile(from))
    }
  }
  for (const [f, bytes] of options.extraFiles ?? []) {
    if (f.includes("/") || f.includes("\\") || files.has(f)) throw new HfError(join(dir, f), "(file)", "extra file name clashes with the HF layout or is not a plain name")
    files.set(f, bytes)
  }
  return files
}

const writeDurably = async (path: string, bytes: Uint8Array): Promise<void> => {
  const fh = await open(path, "w")
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

const syncDir = async (dir: string): Promise<void> => {
  const fh = await open(dir, "r")
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * Writes `files` as directory `dir`: staged in a sibling `.<name>.tmp-PID-hex`, each file fsynced,
 * then renamed into place (an existing `dir` is moved aside first and removed after), so a crash
 * leaves the old directory, the new one, or a staging folder, never a half-written `dir`.
 */
export const writeDirAtomically = async (dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> => {
  await mkdir(dirname(dir), { recursive: true })
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`)
  await mkdir(staging, { recursive: true })
  try {
    for (const [f, bytes] of files) await writeDurably(join(staging, f), bytes)
    await syncDir(staging)
    if (existsSync(dir)) {
      const old = join(dirname(dir), `.${basename(dir)}.old.tmp-${process.pid}-${randomBytes(4).toString("hex")}`)
      await rename(dir, old)
      await rename(staging, dir)
      await rm(old, { recursive: true, force: true })
    } else await rename(staging, dir)
    await syncDir(dirname(dir))
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
}
