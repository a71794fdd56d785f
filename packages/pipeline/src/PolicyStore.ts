/**
 * Where a run's policy comes from and goes to: a fresh one (`init`), a run checkpoint (`load`: resume,
 * `--init`, the KL reference) and a checkpoint written (`save`). The one place that knows the model
 * family; `Train.ts` sees only `Policy` values.
 *
 * - GPT recipes (`model: { nLayer, nHead, nEmbd, blockSize }`): `init(seed)` is `Gpt.init` of the
 *   recipe's config; checkpoints are duet's (`Checkpoint.save/load`: model.safetensors,
 *   optimizer.safetensors, config.json with the tokenizer spec, meta and file hashes), exactly as
 *   `Train.ts` wrote them before this module, so old runs resume and resume stays bit-exact.
 * - Hugging Face recipes (`model: { hf: DIR }`): `init` loads DIR's weights (the seed is unused);
 *   a checkpoint is an HF directory transformers and vLLM load unchanged (config.json,
 *   model.safetensors in float32, the tokenizer, chat-template and generation files copied from DIR)
 *   plus duet's `optimizer.safetensors` and `duet.json` (meta, and the size and SHA-256 of the
 *   tensor files, so a torn or corrupt checkpoint is refused as for the GPT). See `HfCheckpoint`.
 */
import { Effect, Schema } from "effect"
import { AdamW, Checkpoint, Gpt, Hf, HfCheckpoint, Llama } from "@duet/model"
import type { AdamWState, GptConfig, LlamaConfig, Policy } from "@duet/model"
import type { tf } from "@duet/engine"
import type { Recipe } from "./Recipe.js"
import type * as Setup from "./Setup.js"

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", { message: Schema.String }) {}

/** Saved AdamW moments, as `AdamW.restore(policy.params, optimizer)` takes them. */
export interface SavedOptimizer {
  readonly step: number
  readonly m: ReadonlyMap<string, tf.Tensor>
  readonly v: ReadonlyMap<string, tf.Tensor>
}

export interface Loaded {
  /** The checkpoint's policy (new Variables; the caller owns and disposes it). */
  readonly policy: Policy<any>
  /** The checkpoint's AdamW state, when it has one. */
  readonly optimizer?: SavedOptimizer
  /** What `save` was given as `meta`. */
  readonly meta: Record<string, unknown>
  /** Frees the optimizer moments (call after `AdamW.restore`, which copies them); not the policy. */
  readonly dispose: () => void
}

export interface PolicyStore {
  /** One line for the log: "gpt, 232,992 parameters" / "qwen2 from DIR, 494,032,768 parameters". */
  readonly describe: string
  readonly parameterCount: number
  /** A fresh policy: the GPT at random from `recipe.model` and `seed`; an HF model's weights from its directory. */
  readonly init: (seed: number) => Effect.Effect<Policy<any>, StoreError>
  /** A checkpoint `save` wrote (resume, `--init`, the reference policy). */
  readonly load: (dir: string) => Effect.Effect<Loaded, StoreError>
  /** Writes a checkpoint atomically: a crash leaves the old one or the new one, never a mix. */
  readonly save: (dir: string, policy: Policy<any>, optimizerState: AdamWState, meta: Record<string, unknown>) => Effect.Effect<void, StoreError>
}

/** `Recipe["model"]` when it names a Hugging Face directory. */
export const hfDir = (model: Recipe["model"]): string | undefined => ("hf" in model ? (model as { hf: string }).hf : undefined)

const fail = (what: string) => (e: unknown) => new StoreError({ message: `${what}: ${e instanceof Error ? e.message : String(e)}` })
const promise = <A>(what: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: fail(what) })
const sync = <A>(what: string, f: () => A) => Effect.try({ try: f, catch: fail(what) })

/** The store for a recipe; `setup` supplies the tokenizer (and, for HF, the parsed config). */
export const make = (_recipe: Recipe, setup: Setup.Setup): PolicyStore => {
  const model = setup.model
  return model.kind === "gpt" ? gpt(model.config, setup) : hf(model.dir, model.config)
}

/** duet's GPT and its checkpoints (`Checkpoint`), as `Train.ts` has always used them. */
export const gpt = (config: GptConfig, setup: Pick<Setup.Setup, "codec">): PolicyStore => {
  const count = Gpt.parameterCount(config)
  return {
    describe: `gpt, ${count.toLocaleString("en-US")} parameters`,
    parameterCount: count,
    init: (seed) => sync("init", () => Gpt.init(config, seed)),
    load: (dir) =>
      Effect.gen(function* () {
        const loaded = yield* promise(`load ${dir}`, () => Checkpoint.load(dir))
        const policy = yield* sync(`load ${dir}`, () => Gpt.fromParams(loaded.config, loaded.params)).pipe(
          Effect.tapError(() => Effect.sync(() => Checkpoint.dispose(loaded)))
        )
        for (const t of loaded.params.values()) t.dispose()
        return {
          policy,
          ...(loaded.optimizer === undefined ? {} : { optimizer: loaded.optimizer }),
          meta: loaded.meta,
          dispose: () => {
            for (const t of [...(loaded.optimizer?.m.values() ?? []), ...(loaded.optimizer?.v.values() ?? [])]) t.dispose()
          }
        } satisfies Loaded
      }),
    save: (dir, policy, optimizerState, meta) =>
      promise("save checkpoint", () =>
        Checkpoint.save(dir, { config: policy.config as GptConfig, params: policy.params, optimizerState, tokenizer: setup.codec.tokenizer, meta })
      )
  }
}

/** A Hugging Face directory's model; checkpoints in HF layout plus duet's optimizer state and meta. */
export const hf = (dir: string, config: LlamaConfig): PolicyStore => {
  const count = Llama.parameterCount(config)
  return {
    describe: `${config.family} from ${dir}, ${count.toLocaleString("en-US")} parameters`,
    parameterCount: count,
    init: () => promise(`load ${dir}`, async () => (await Hf.load(dir, { blockSize: config.blockSize })).policy),
    load: (ckpt) =>
      Effect.gen(function* () {
        const loaded = yield* promise(`load ${ckpt}`, () => HfCheckpoint.load(ckpt, { blockSize: config.blockSize }))
        return {
          policy: loaded.policy,
          ...(loaded.optimizer === undefined ? {} : { optimizer: loaded.optimizer }),
          meta: loaded.meta,
          dispose: () => HfCheckpoint.disposeOptimizer(loaded)
        } satisfies Loaded
      }),
    save: (ckpt, policy, optimizerState, meta) =>
      promise("save checkpoint", () => HfCheckpoint.save(ckpt, policy as Llama.Policy, { sourceDir: dir, optimizerState, meta }))
  }
}

/** `AdamW.restore` of a loaded checkpoint's moments, or fresh moments when it has none. */
export const restoreOptimizer = (loaded: Loaded): AdamWState =>
  loaded.optimizer === undefined ? AdamW.init(loaded.policy.params) : AdamW.restore(loaded.policy.params, loaded.optimizer)
