/**
 * A training checkpoint of a Hugging Face policy: an HF directory that transformers and vLLM load
 * unchanged, with duet's resume state beside it.
 *
 *   config.json, model.safetensors        the policy, float32 (what training holds; a resume is bit-exact)
 *   tokenizer.json, tokenizer_config.json, chat_template.jinja, generation_config.json, ...
 *                                         copied from the model directory the run started from
 *   optimizer.safetensors                 AdamW moments (`exp_avg.<name>`, `exp_avg_sq.<name>`, step), as `Checkpoint`
 *   duet.json                             { format, source, meta, files: { name: { bytes, sha256 } } }
 *
 * The whole directory is staged and renamed into place (`Hf.writeDirAtomically`); `load` checks each
 * file `duet.json` lists against its size and hash, so a torn or corrupt checkpoint fails naming the
 * file instead of resuming from a mix.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Checkpoint from "./Checkpoint.js"
import * as Hf from "./Hf.js"
import type * as Llama from "./Llama.js"
import type { AdamWState } from "./AdamW.js"

export const MANIFEST_FILE = "duet.json"
export const FORMAT = "duet-hf-checkpoint-1"

export interface SaveContents {
  /** The model directory the run started from: its config.json is written back, its tokenizer files copied. */
  readonly sourceDir: string
  readonly optimizerState?: AdamWState
  /** Free-form JSON (step, recipe, counters, ...). */
  readonly meta?: Record<string, unknown>
}

export interface Loaded extends Hf.Loaded {
  readonly optimizer?: NonNullable<Checkpoint.Loaded["optimizer"]>
  readonly meta: Record<string, unknown>
  /** The model directory the run started from, as saved. */
  readonly sourceDir: string
}

interface Manifest {
  format: string
  source: string
  meta: Record<string, unknown>
  files: Record<string, { bytes: number; sha256: string }>
}

/** Writes `policy` (float32) and the optimizer state to `dir` atomically. */
export const save = async (dir: string, policy: Llama.Policy, contents: SaveContents): Promise<void> => {
  const configPath = join(contents.sourceDir, Hf.CONFIG_FILE)
  const configJson = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>
  const files = await Hf.layout(dir, policy, { dtype: "F32", source: { dir: contents.sourceDir, configJson, dtypes: new Map() } })
  if (contents.optimizerState !== undefined) files.set(Checkpoint.OPTIMIZER_FILE, await Checkpoint.encodeOptimizer(contents.optimizerState))
  const listed = [...files.keys()].filter((f) => f.endsWith(".safetensors") || f === Hf.CONFIG_FILE || f === Hf.INDEX_FILE)
  const manifest: Manifest = {
    format: FORMAT,
    source: contents.sourceDir,
    meta: contents.meta ?? {},
    files: Object.fromEntries(listed.map((f) => [f, { bytes: files.get(f)!.length, sha256: Checkpoint.sha256(files.get(f)!) }]))
  }
  files.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"))
  await Hf.writeDirAtomically(dir, files)
}

/** True when `dir` looks like a checkpoint `save` wrote. */
export const isCheckpoint = (dir: string): boolean => existsSync(join(dir, MANIFEST_FILE))

/** Loads a checkpoint `save` wrote; a missing, torn or corrupt file is a `CheckpointError` / `HfError` naming it. */
export const load = async (dir: string, options: Hf.LoadOptions = {}): Promise<Loaded> => {
  const manifestPath = join(dir, MANIFEST_FILE)
  if (!existsSync(manifestPath)) {
    throw new Checkpoint.CheckpointError(manifestPath, `missing: ${dir} is not a duet checkpoint of a Hugging Face model (a plain model directory is a recipe's model.hf, not a checkpoint)`)
  }
  let manifest: Manifest
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest
  } catch (e) {
    throw new Checkpoint.CheckpointError(manifestPath, `is not valid JSON (${(e as Error).message})`)
  }
  if (typeof manifest !== "object" || manifest === null || manifest.format !== FORMAT) {
    throw new Checkpoint.CheckpointError(manifestPath, `format must be ${JSON.stringify(FORMAT)}, got ${JSON.stringify((manifest as Partial<Manifest> | null)?.format)}`)
  }
  const files = manifest.files ?? {}
  for (const [name, listed] of Object.entries(files)) {
    if (name !== Checkpoint.OPTIMIZER_FILE) await Checkpoint.readChecked(dir, name, listed, MANIFEST_FILE)
  }
  let optimizer: Loaded["optimizer"]
  if (files[Checkpoint.OPTIMIZER_FILE] !== undefined) {
    const bytes = await Checkpoint.readChecked(dir, Checkpoint.OPTIMIZER_FILE, files[Checkpoint.OPTIMIZER_FILE], MANIFEST_FILE)
    optimizer = Checkpoint.decodeOptimizer(bytes, join(dir, Checkpoint.OPTIMIZER_FILE))
  }
  try {
    const hf = await Hf.load(dir, options)
    return { ...hf, ...(optimizer === undefined ? {} : { optimizer }), meta: manifest.meta ?? {}, sourceDir: manifest.source }
  } catch (e) {
    for (const t of [...(optimizer?.m.values() ?? []), ...(optimizer?.v.values() ?? [])]) t.dispose()
    throw e
  }
}

/** Frees a loaded checkpoint's optimizer moments (after `AdamW.restore` copied them). */
export const disposeOptimizer = (loaded: Pick<Loaded, "optimizer">): void => {
  for (const t of [...(loaded.optimizer?.m.values() ?? []), ...(loaded.optimizer?.v.values() ?? [])]) t.dispose()
}
