/**
 * `duet export CHECKPOINT --to hf OUT_DIR`: a duet GPT checkpoint as a transformers
 * `GPT2LMHeadModel` directory — config.json, model.safetensors, generation_config.json,
 * tokenizer.json + tokenizer_config.json — that `AutoModelForCausalLM.from_pretrained` and
 * `AutoTokenizer.from_pretrained` load with the same logits (tools/ecosystem/hf_export_logits.py).
 *
 * The mapping (learned from tools/trl-diff/duet_hf.py): duet already uses GPT-2's names and its
 * Conv1D [in, out] layout; only `attn.c_q/c_k/c_v` are concatenated into `attn.c_attn` (along the
 * output axis), and `lm_head.weight` is tied to `transformer.wte.weight` (omitted, as transformers
 * saves it). duet's GELU is x·σ(1.702x): `activation_function: "quick_gelu"`. A model without
 * biases gets zero biases (GPT-2 always has them; zeros change nothing).
 *
 * The char tokenizer becomes a `tokenizers` WordLevel model over the same ids (<pad> 0, <bos> 1,
 * <eos> 2, then the alphabet), split into single characters, with a post-processor that starts
 * every sequence with <bos> as duet's prompts do; the task's stop marker is `eos_token`.
 */
import { Effect, Schema } from "effect"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { Engine } from "@duet/engine"
import { Checkpoint, Safetensors } from "@duet/model"
import type { GptConfig } from "@duet/model"

export class ExportError extends Schema.TaggedError<ExportError>()("ExportError", { message: Schema.String }) {}

/** GPT-2's tensors from duet's parameters (Float32 data by duet name). */
export const gpt2Tensors = (config: GptConfig, params: ReadonlyMap<string, Float32Array>): Map<string, Safetensors.RawTensor> => {
  const C = config.nEmbd
  const get = (name: string): Float32Array => {
    const p = params.get(name)
    if (p === undefined) throw new Error(`parameter ${name} is missing`)
    return p
  }
  const bias = (name: string, n: number) => (config.bias ? get(name) : new Float32Array(n))
  const out = new Map<string, Safetensors.RawTensor>()
  const put = (name: string, data: Float32Array, shape: number[]) => out.set(name, Safetensors.fromArray(data, shape))
  put("transformer.wte.weight", get("transformer.wte.weight"), [config.vocabSize, C])
  put("transformer.wpe.weight", get("transformer.wpe.weight"), [config.blockSize, C])
  const ln = (name: string) => {
    put(`${name}.weight`, get(`${name}.weight`), [C])
    put(`${name}.bias`, bias(`${name}.bias`, C), [C])
  }
  const linear = (name: string, i: number, o: number) => {
    put(`${name}.weight`, get(`${name}.weight`), [i, o])
    put(`${name}.bias`, bias(`${name}.bias`, o), [o])
  }
  const H = config.mlpRatio * C
  for (let l = 0; l < config.nLayer; l++) {
    const h = `transformer.h.${l}`
    ln(`${h}.ln_1`)
    // c_attn = [q | k | v] along the output axis: row r of the [C, 3C] weight is q[r], k[r], v[r].
    const [q, k, v] = ["c_q", "c_k", "c_v"].map((n) => get(`${h}.attn.${n}.weight`))
    const w = new Float32Array(C * 3 * C)
    for (let r = 0; r < C; r++) {
      w.set(q!.subarray(r * C, (r + 1) * C), r * 3 * C)
      w.set(k!.subarray(r * C, (r + 1) * C), r * 3 * C + C)
      w.set(v!.subarray(r * C, (r + 1) * C), r * 3 * C + 2 * C)
    }
    put(`${h}.attn.c_attn.weight`, w, [C, 3 * C])
    const b = new Float32Array(3 * C)
    ;["c_q", "c_k", "c_v"].forEach((n, j) => b.set(bias(`${h}.attn.${n}.bias`, C), j * C))
    put(`${h}.attn.c_attn.bias`, b, [3 * C])
    linear(`${h}.attn.c_proj`, C, C)
    ln(`${h}.ln_2`)
    linear(`${h}.mlp.c_fc`, C, H)
    linear(`${h}.mlp.c_proj`, H, C)
  }
  ln("transformer.ln_f")
  return out
}

/** Ids of the char vocabulary: <pad> 0, <bos> 1, <eos> 2, then the alphabet's characters. */
export const vocabulary = (alphabet: string): Record<string, number> => {
  const vocab: Record<string, number> = { "<pad>": 0, "<bos>": 1, "<eos>": 2 }
  Array.from(alphabet).forEach((ch, i) => (vocab[ch] = i + 3))
  return vocab
}

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })

/** A `tokenizers` tokenizer.json over the char vocabulary (one token per character, <bos> first). */
export const tokenizerJson = (alphabet: string) => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [special(0, "<pad>"), special(1, "<bos>"), special(2, "<eos>")],
  normalizer: null,
  pre_tokenizer: { type: "Split", pattern: { Regex: "[\\s\\S]" }, behavior: "Isolated", invert: false },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { "<bos>": { id: "<bos>", ids: [1], tokens: ["<bos>"] } }
  },
  decoder: { type: "Fuse" },
  model: { type: "WordLevel", vocab: vocabulary(alphabet), unk_token: "<eos>" }
})

/** transformers' GPT2Config for a duet GptConfig; `stopId` is the stop marker's id (generation's eos). */
export const gpt2Config = (c: GptConfig, stopId: number) => ({
  architectures: ["GPT2LMHeadModel"],
  model_type: "gpt2",
  vocab_size: c.vocabSize,
  n_positions: c.blockSize,
  n_embd: c.nEmbd,
  n_layer: c.nLayer,
  n_head: c.nHead,
  n_inner: c.mlpRatio * c.nEmbd,
  activation_function: "quick_gelu",
  layer_norm_epsilon: c.layerNormEps,
  initializer_range: c.initStd,
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
  scale_attn_weights: true,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: stopId,
  pad_token_id: 0,
  dtype: "float32"
})

/**
 * A checkpoint folder; a pointer file (`checkpoints/latest`, `checkpoints/best`: "step-NNNNNN"); or
 * a run directory (its `checkpoints/latest`).
 */
export const resolveCheckpoint = (path: string): string => {
  if (existsSync(join(path, Checkpoint.CONFIG_FILE))) return path
  if (existsSync(path) && statSync(path).isFile()) {
    const name = readFileSync(path, "utf8").trim()
    if (!/^step-\d+$/.test(name)) throw new Error(`${path}: expected a checkpoint pointer "step-NNNNNN", found ${JSON.stringify(name.slice(0, 40))}`)
    return join(dirname(path), name)
  }
  const latest = join(path, "checkpoints", "latest")
  if (existsSync(latest)) return join(path, "checkpoints", readFileSync(latest, "utf8").trim())
  throw new Error(`${path}: neither a checkpoint (no ${Checkpoint.CONFIG_FILE}) nor a run directory (no checkpoints/latest)`)
}

export interface Exported {
  readonly checkpoint: string
  readonly outDir: string
  readonly files: ReadonlyArray<string>
  readonly parameters: number
}

/** Writes the transformers directory for a duet GPT checkpoint; OUT_DIR must be absent or empty. */
export const toHf = (checkpointPath: string, outDir: string): Effect.Effect<Exported, ExportError> =>
  Effect.tryPromise({
    try: async () => {
      const dir = resolveCheckpoint(checkpointPath)
      if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`${outDir}: is not empty; export into a new directory`)
      await Engine.init({ threads: 1 })
      const loaded = await Checkpoint.load(dir)
      let tensors: Map<string, Safetensors.RawTensor>
      try {
        const params = new Map([...loaded.params].map(([name, t]) => [name, t.dataSync() as Float32Array]))
        tensors = gpt2Tensors(loaded.config, params)
      } finally {
        Checkpoint.dispose(loaded)
      }
      const spec = loaded.tokenizer
      if (spec === undefined || spec.type !== "char") {
        throw new Error(`${dir}: has ${spec === undefined ? "no tokenizer" : `a ${spec.type} tokenizer`}; export writes char vocabularies only`)
      }
      const stop = typeof loaded.meta.stop === "string" ? loaded.meta.stop : "\n"
      const vocab = vocabulary(spec.alphabet)
      const stopId = vocab[stop]
      if (stopId === undefined) throw new Error(`${dir}: the stop marker ${JSON.stringify(stop)} is not in the alphabet`)
      const files: Record<string, string | Uint8Array> = {
        "config.json": JSON.stringify(gpt2Config(loaded.config, stopId), null, 2) + "\n",
        "model.safetensors": Safetensors.encode(tensors, { format: "pt" }),
        "generation_config.json": JSON.stringify({ bos_token_id: 1, eos_token_id: stopId, pad_token_id: 0 }, null, 2) + "\n",
        "tokenizer.json": JSON.stringify(tokenizerJson(spec.alphabet), null, 2) + "\n",
        "tokenizer_config.json":
          JSON.stringify(
            {
              tokenizer_class: "PreTrainedTokenizerFast",
              bos_token: "<bos>",
              eos_token: stop,
              pad_token: "<pad>",
              unk_token: "<eos>",
              model_max_length: loaded.config.blockSize,
              padding_side: "left",
              clean_up_tokenization_spaces: false
            },
            null,
            2
          ) + "\n"
      }
      await mkdir(outDir, { recursive: true })
      for (const [name, body] of Object.entries(files)) await writeFile(join(outDir, name), body)
      const parameters = [...tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)
      return { checkpoint: dir, outDir, files: Object.keys(files), parameters }
    },
    catch: (e) => new ExportError({ message: e instanceof Error ? e.message : String(e) })
  })
