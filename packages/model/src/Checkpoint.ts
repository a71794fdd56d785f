/**
 * Checkpoints: a directory with `model.safetensors` (parameters, HF names), optionally
 * `optimizer.safetensors` (AdamW moments `exp_avg.<name>`, `exp_avg_sq.<name>`, step in the
 * metadata), and `config.json` (the GptConfig, tokenizer spec, free-form `meta`, and the size and
 * SHA-256 of each tensor file).
 *
 * Writes are atomic: a new directory is staged as `<dir>.tmp-*` and renamed into place; an existing
 * one gets each file written to a temp file, fsynced and renamed, `config.json` last. Since
 * `config.json` lists the hash of the tensor files it belongs to, a load never mixes files of two
 * saves without saying so. Round trips are bit-exact (raw float32 bytes).
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { DuetInputError } from "@duet/core"
import { tf } from "./internal/Tfjs.js"
import * as Gpt from "./Gpt.js"
import * as Safetensors from "./Safetensors.js"
import type { AdamWState } from "./AdamW.js"
import type { Tokenizer, TokenizerSpec } from "./Tokenizer.js"

/** A checkpoint file is missing, corrupt, truncated or inconsistent; `file` is its path. */
export class CheckpointError extends DuetInputError {
  readonly _tag = "CheckpointError" as const
  constructor(
    readonly file: string,
    readonly detail: string
  ) {
    super(`${file}: ${detail}`)
    this.name = "CheckpointError"
  }
}

export const MODEL_FILE = "model.safetensors"
export const OPTIMIZER_FILE = "optimizer.safetensors"
export const CONFIG_FILE = "config.json"

export interface SaveContents {
  readonly config: Gpt.GptConfig
  readonly params: ReadonlyMap<string, tf.Tensor>
  readonly optimizerState?: AdamWState
  readonly tokenizer?: Tokenizer | TokenizerSpec
  /** Free-form JSON (training step, RNG state, recipe, ...). */
  readonly meta?: Record<string, unknown>
}

export interface Loaded {
  readonly config: Gpt.GptConfig
  /** Parameters by name; the caller disposes them (e.g. after `Gpt.fromParams`). */
  readonly params: Map<string, tf.Tensor>
  /** Saved AdamW state, ready for `AdamW.restore`. */
  readonly optimizer?: { step: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> }
  readonly tokenizer?: TokenizerSpec
  readonly meta: Record<string, unknown>
}

interface ConfigJson {
  model_type: "duet-gpt"
  config: Gpt.GptConfig
  tokenizer?: TokenizerSpec
  meta: Record<string, unknown>
  files: Record<string, { bytes: number; sha256: string }>
}

export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex")

const tensorsToRaw = async (tensors: Iterable<readonly [string, tf.Tensor]>): Promise<Map<string, Safetensors.RawTensor>> => {
  const out = new Map<string, Safetensors.RawTensor>()
  for (const [name, t] of tensors) {
    const data = await t.data()
    if (!(data instanceof Float32Array || data instanceof Int32Array)) throw new CheckpointError(name, `dtype ${t.dtype} cannot be saved (float32 and int32 can)`)
    out.set(name, Safetensors.fromArray(data, t.shape))
  }
  return out
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

const exists = async (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false
  )

const tmpSuffix = (): string => `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`

/** AdamW state as `optimizer.safetensors` bytes: `exp_avg.<name>`, `exp_avg_sq.<name>`, the step in the metadata. */
export const encodeOptimizer = async (opt: AdamWState): Promise<Uint8Array> => {
  const moments: Array<readonly [string, tf.Tensor]> = [
    ...[...opt.m].map(([n, t]) => [`exp_avg.${n}`, t] as const),
    ...[...opt.v].map(([n, t]) => [`exp_avg_sq.${n}`, t] as const)
  ]
  return Safetensors.encode(await tensorsToRaw(moments), { step: String(opt.step) })
}

/** The inverse of `encodeOptimizer` (new tensors the caller disposes); errors name `path`. */
export const decodeOptimizer = (bytes: Uint8Array, path: string): NonNullable<Loaded["optimizer"]> => {
  const opt = Safetensors.decode(bytes, path)
  const step = Number(opt.metadata["step"])
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError(path, `metadata step ${JSON.stringify(opt.metadata["step"])} is not an integer >= 0`)
  const pick = (prefix: string) =>
    toTensors(new Map([...opt.tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t])), path)
  return { step, m: pick("exp_avg."), v: pick("exp_avg_sq.") }
}

/** Saves a checkpoint to `dir` atomically (see the module comment). */
export const save = async (dir: string, contents: SaveContents): Promise<void> => {
  const config = Gpt.makeConfig(contents.config)
  const files = new Map<string, Uint8Array>()
  files.set(MODEL_FILE, Safetensors.encode(await tensorsToRaw(contents.params), { format: "pt" }))
  const opt = contents.optimizerState
  if (opt !== undefined) files.set(OPTIMIZER_FILE, await encodeOptimizer(opt))
  const tok = contents.tokenizer
  const json: ConfigJson = {
    model_type: "duet-gpt",
    config,
    ...(tok === undefined ? {} : { tokenizer: "toSpec" in tok ? tok.toSpec() : tok }),
    meta: contents.meta ?? {},
    files: Object.fromEntries([...files].map(([name, b]) => [name, { bytes: b.length, sha256: sha256(b) }]))
  }
  files.set(CONFIG_FILE, new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"))

  await mkdir(dirname(dir), { recursive: true })
  if (!(await exists(dir))) {
    const staging = join(dirname(dir), `.${basename(dir)}${tmpSuffix()}`)
    await mkdir(staging)
    try {
      for (const [name, b] of files) await writeDurably(join(staging, name), b)
      await syncDir(staging)
      await rename(staging, dir)
    } catch (e) {
      await rm(staging, { recursive: true, force: true })
      throw e
    }
    await syncDir(dirname(dir))
    return
  }
  // existing directory: replace file by file, config.json (which names the others' hashes) last
  for (const [name, b] of files) {
    const target = join(dir, name)
    const tmp = target + tmpSuffix()
    try {
      await writeDurably(tmp, b)
      await rename(tmp, target)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }
  if (opt === undefined) await rm(join(dir, OPTIMIZER_FILE), { force: true })
  await syncDir(dir)
}

/** A file of `dir`, checked against the size and SHA-256 a manifest lists (when it lists it). */
export const readChecked = async (dir: string, name: string, listed: { bytes: number; sha256: string } | undefined, manifest = CONFIG_FILE): Promise<Uint8Array> => {
  const path = join(dir, name)
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (e) {
    throw new CheckpointError(path, `cannot be read (${(e as Error).message})`)
  }
  if (listed !== undefined) {
    if (bytes.length !== listed.bytes) throw new CheckpointError(path, `has ${bytes.length} bytes, ${manifest} says ${listed.bytes} (truncated, or from another save)`)
    if (sha256(bytes) !== listed.sha256) throw new CheckpointError(path, `SHA-256 differs from the one in ${manifest} (corrupt, or from another save)`)
  }
  return bytes
}

const toTensors = (raw: Map<string, Safetensors.RawTensor>, file: string): Map<string, tf.Tensor> => {
  const out = new Map<string, tf.Tensor>()
  for (const [name, t] of raw) out.set(name, tf.tensor(Safetensors.toArray(t, file), [...t.shape], t.dtype === "F32" ? "float32" : "int32"))
  return out
}

/** Loads a checkpoint; every problem is a CheckpointError (or SafetensorsError) naming the file. */
export const load = async (dir: string): Promise<Loaded> => {
  const configPath = join(dir, CONFIG_FILE)
  let json: ConfigJson
  try {
    json = JSON.parse(new TextDecoder().decode(await readChecked(dir, CONFIG_FILE, undefined))) as ConfigJson
  } catch (e) {
    if (e instanceof CheckpointError) throw e
    throw new CheckpointError(configPath, `is not valid JSON (${(e as Error).message})`)
  }
  if (typeof json !== "object" || json === null || json.model_type !== "duet-gpt") throw new CheckpointError(configPath, `model_type must be "duet-gpt"`)
  let config: Gpt.GptConfig
  try {
    config = Gpt.makeConfig(json.config)
  } catch (e) {
    throw new CheckpointError(configPath, `bad config: ${(e as Error).message}`)
  }
  const files = json.files ?? {}
  const modelPath = join(dir, MODEL_FILE)
  const model = Safetensors.decode(await readChecked(dir, MODEL_FILE, files[MODEL_FILE]), modelPath)
  for (const [name, shape] of Gpt.parameterShapes(config)) {
    const t = model.tensors.get(name)
    if (t === undefined) throw new CheckpointError(modelPath, `tensor ${name} is missing`)
    if (t.dtype !== "F32" || t.shape.join(",") !== shape.join(",")) throw new CheckpointError(modelPath, `tensor ${name} is ${t.dtype} [${t.shape}], expected F32 [${shape}]`)
  }
  if (model.tensors.size !== Gpt.parameterShapes(config).length) throw new CheckpointError(modelPath, `has ${model.tensors.size} tensors, the config needs ${Gpt.parameterShapes(config).length}`)
  let optimizer: Loaded["optimizer"]
  if (files[OPTIMIZER_FILE] !== undefined) {
    optimizer = decodeOptimizer(await readChecked(dir, OPTIMIZER_FILE, files[OPTIMIZER_FILE]), join(dir, OPTIMIZER_FILE))
  }
  return {
    config,
    params: toTensors(model.tensors, modelPath),
    ...(optimizer === undefined ? {} : { optimizer }),
    ...(json.tokenizer === undefined ? {} : { tokenizer: json.tokenizer }),
    meta: json.meta ?? {}
  }
}

/** Frees the tensors of a loaded checkpoint. */
export const dispose = (loaded: Loaded): void => {
  for (const t of loaded.params.values()) t.dispose()
  for (const t of [...(loaded.optimizer?.m.values() ?? []), ...(loaded.optimizer?.v.values() ?? [])]) t.dispose()
}
