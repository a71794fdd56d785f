/**
 * Offline DPO on a preference-pairs file (`duet dpo`): TRL's DPO JSONL (`{"prompt", "chosen",
 * "rejected"}` strings per line, as `duet pairs` writes from verified samples), a duet checkpoint
 * to start from (also the frozen reference), and one of `@duet/losses` `Dpo` losses (sigmoid / IPO /
 * hinge) through `Update.dpoStep`.
 *
 * Tokens as TRL's `DPOTrainer` makes them: the prompt with BOS in front (as duet's prompts), each
 * completion followed by the stop token (TRL appends EOS): the checkpoint's task stop marker
 * (`meta.stop`, written by `duet train`) or the tokenizer's EOS. Writes `<out>/checkpoint` (the
 * trained policy, with the start checkpoint's `meta` plus a `dpo` record, so `duet eval` reads it
 * as the start one) and `<out>/metrics.jsonl` (one line per step: loss, the implicit rewards,
 * `rewardMargin`, `rewardAccuracy`, grad norm).
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { Rng } from "@duet/core"
import { Dpo } from "@duet/losses"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import type { Policy } from "@duet/model"
import * as RunDir from "./RunDir.js"
import * as Tokens from "./Tokens.js"
import * as Update from "./Update.js"

export class OfflineDpoError extends Schema.TaggedError<OfflineDpoError>()("OfflineDpoError", { message: Schema.String }) {}

/** One preference pair, as text (TRL's DPO dataset row). */
export interface Pair {
  readonly prompt: string
  readonly chosen: string
  readonly rejected: string
}

/**
 * The discordant pairs of one prompt's verified samples: each correct sample is paired with one
 * incorrect sample, in order, until one side runs out (`min(correct, incorrect)` disjoint pairs, so
 * no sample weighs more than once). Two samples give one pair exactly when one is right.
 */
export const discordantPairs = (prompt: string, samples: ReadonlyArray<{ readonly text: string; readonly correct: boolean }>): Pair[] => {
  const right = samples.filter((s) => s.correct)
  const wrong = samples.filter((s) => !s.correct)
  return Array.from({ length: Math.min(right.length, wrong.length) }, (_, i) => ({ prompt, chosen: right[i]!.text, rejected: wrong[i]!.text }))
}

/** Parses a pairs JSONL text; every bad line fails with `file:line` and the field. */
export const parsePairs = (text: string, file: string): Effect.Effect<Pair[], OfflineDpoError> =>
  Effect.try({
    try: () => {
      const out: Pair[] = []
      const lines = text.replace(/^\uFEFF/, "").split("\n")
      lines.forEach((line, i) => {
        if (line.trim() === "") return
        const where = `${file}:${i + 1}`
        let row: unknown
        try {
          row = JSON.parse(line)
        } catch (e) {
          throw new Error(`${where}: not JSON (${(e as Error).message})`)
        }
        if (typeof row !== "object" || row === null || Array.isArray(row)) throw new Error(`${where}: expected an object {"prompt", "chosen", "rejected"}`)
        for (const field of ["prompt", "chosen", "rejected"] as const) {
          const v = (row as Record<string, unknown>)[field]
          if (typeof v !== "string") {
            const hint = Array.isArray(v) ? " (conversational pairs, lists of messages, need a chat template; give plain strings)" : ""
            throw new Error(`${where}: field "${field}" must be a string, got ${v === undefined ? "nothing" : JSON.stringify(v).slice(0, 60)}${hint}`)
          }
        }
        const r = row as Pair
        out.push({ prompt: r.prompt, chosen: r.chosen, rejected: r.rejected })
      })
      if (out.length === 0) throw new Error(`${file}: no pairs (an empty file, or only blank lines)`)
      return out
    },
    catch: (e) => new OfflineDpoError({ message: (e as Error).message })
  })

export interface Options {
  /** The pairs JSONL file. */
  readonly pairs: string
  /** The duet checkpoint to start from; also the frozen reference. */
  readonly init: string
  /** Output directory: `checkpoint/` and `metrics.jsonl`. */
  readonly out: string
  /** DPO loss (TRL `loss_type`): sigmoid (DPO), ipo, hinge. */
  readonly variant: "sigmoid" | "ipo" | "hinge"
  /** Implicit-reward temperature (0.1, TRL's default). */
  readonly beta?: number
  /** cDPO label smoothing, sigmoid only (0). */
  readonly labelSmoothing?: number
  /** Passes over the pairs (1). */
  readonly epochs?: number
  /** Pairs per step (16). */
  readonly batchSize?: number
  /** AdamW learning rate, constant (1e-4). */
  readonly lr?: number
  /** Seed of the pair order (0). */
  readonly seed?: number
  readonly reporter?: { readonly progress: (line: string) => void; readonly log: (line: string) => void }
}

export interface Summary {
  readonly pairs: number
  readonly steps: number
  /** First and last step's loss and metrics. */
  readonly first: Record<string, number>
  readonly last: Record<string, number>
  readonly checkpoint: string
}

const lossOf = (o: Options): Dpo.DpoLoss => {
  const beta = o.beta ?? 0.1
  return o.variant === "sigmoid" ? Dpo.sigmoid({ beta, labelSmoothing: o.labelSmoothing ?? 0 }) : o.variant === "ipo" ? Dpo.ipo({ beta }) : Dpo.hinge({ beta })
}

const fail = (message: string) => new OfflineDpoError({ message })

/** Trains `options.init` on the pairs file with DPO (see the module comment). */
export const train = (options: Options): Effect.Effect<Summary, OfflineDpoError> =>
  Effect.gen(function* () {
    const reporter = options.reporter ?? { progress: () => {}, log: () => {} }
    const epochs = options.epochs ?? 1
    const batchSize = options.batchSize ?? 16
    const lr = options.lr ?? 1e-4
    if (!Number.isInteger(epochs) || epochs < 1) return yield* fail(`epochs must be an integer >= 1, got ${epochs}`)
    if (!Number.isInteger(batchSize) || batchSize < 1) return yield* fail(`batch size must be an integer >= 1, got ${batchSize}`)
    if (!(Number.isFinite(lr) && lr > 0)) return yield* fail(`lr must be a number > 0, got ${lr}`)
    const loss = yield* Effect.try({ try: () => lossOf(options), catch: (e) => fail((e as Error).message) })
    const text = yield* Effect.tryPromise({ try: () => readFile(options.pairs, "utf8"), catch: (e) => fail(`cannot read ${options.pairs}: ${(e as Error).message}`) })
    const pairs = yield* parsePairs(text, options.pairs)

    const loaded = yield* Effect.tryPromise({ try: () => Checkpoint.load(options.init), catch: (e) => fail(`--init ${options.init}: ${(e as Error).message}`) })
    if (loaded.tokenizer === undefined) {
      Checkpoint.dispose(loaded)
      return yield* fail(`${options.init}/config.json has no tokenizer: the pairs' text cannot be mapped to token ids`)
    }
    const tokenizer = Tokenizer.fromSpec(loaded.tokenizer)
    const stopText = loaded.meta.stop
    let stopToken = tokenizer.eos
    if (typeof stopText === "string") {
      const ids = tokenizer.encode(stopText)
      if (ids.length === 1) stopToken = ids[0]!
    }
    const codec = Tokens.make(tokenizer, stopToken)
    const policy: Policy = Gpt.fromParams(loaded.config, loaded.params)
    Checkpoint.dispose(loaded)
    const reference = Update.freeze(policy)
    const blockSize = policy.config.blockSize
    const release = Effect.sync(() => {
      policy.dispose()
      reference.dispose()
    })
    return yield* Effect.gen(function* () {
      // ---- tokens, each problem named by file:line -------------------------------------------------
      const rows = yield* Effect.try({
        try: () =>
          pairs.map((p, i) => {
            const at = (field: string, e: unknown) => new Error(`${options.pairs}: pair ${i + 1}, ${field}: ${(e as Error).message}`)
            const enc = (field: "chosen" | "rejected") => {
              try {
                return Int32Array.from([...codec.completion(p[field]), stopToken])
              } catch (e) {
                throw at(field, e)
              }
            }
            let prompt: Int32Array
            try {
              prompt = codec.prompt(p.prompt)
            } catch (e) {
              throw at("prompt", e)
            }
            const chosen = enc("chosen")
            const rejected = enc("rejected")
            const longest = prompt.length + Math.max(chosen.length, rejected.length)
            if (longest > blockSize) throw new Error(`${options.pairs}: pair ${i + 1} is ${longest} tokens with its completion; the model's context is ${blockSize}`)
            return { prompt, chosen, rejected }
          }),
        catch: (e) => fail((e as Error).message)
      })

      // ---- steps ---------------------------------------------------------------------------------
      yield* RunDir.ensure(options.out).pipe(Effect.mapError((e) => fail(e.message)))
      yield* RunDir.writeAtomic(RunDir.paths(options.out).metrics, "").pipe(Effect.mapError((e) => fail(e.message)))
      const opt = Update.makeOptimizer(policy, { lr, weightDecay: 0, maxGradNorm: 1 })
      const rng = Rng.seeded(options.seed ?? 0)
      const perEpoch = Math.ceil(rows.length / batchSize)
      const steps = epochs * perEpoch
      let first: Record<string, number> = {}
      let last: Record<string, number> = {}
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = rng.fold(epoch).shuffle(Array.from(rows.keys()))
        for (let b = 0; b < perEpoch; b++) {
          const step = epoch * perEpoch + b
          const batch = order.slice(b * batchSize, (b + 1) * batchSize).map((i) => rows[i]!)
          const r = yield* Effect.try({
            try: () =>
              Update.dpoStep(policy, reference, opt, lr, loss, {
                prompts: batch.map((x) => x.prompt),
                chosen: batch.map((x) => x.chosen),
                rejected: batch.map((x) => x.rejected)
              }),
            catch: (e) => fail(`dpo step ${step}: ${(e as Error).message}`)
          })
          if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) return yield* fail(`dpo step ${step}: the loss or gradient is not finite (loss ${r.loss}); lower --lr`)
          const record = { step, epoch, loss: r.loss, gradNorm: r.gradNorm, lr, pairs: batch.length, ...r.metrics }
          if (step === 0) first = record
          last = record
          yield* RunDir.appendMetrics(options.out, { kind: "dpo", ...record }).pipe(Effect.mapError((e) => fail(e.message)))
          reporter.progress(
            `dpo ${step + 1}/${steps}  loss ${r.loss.toFixed(4)}  margin ${(r.metrics.rewardMargin ?? NaN).toFixed(4)}  accuracy ${(100 * (r.metrics.rewardAccuracy ?? NaN)).toFixed(0)}%`
          )
        }
      }

      // ---- the trained checkpoint ---------------------------------------------------------------------
      const dir = join(options.out, "checkpoint")
      const start = yield* Effect.tryPromise({ try: () => Checkpoint.load(options.init), catch: (e) => fail(`--init ${options.init}: ${(e as Error).message}`) })
      const meta = start.meta
      Checkpoint.dispose(start)
      yield* Effect.tryPromise({
        try: () =>
          Checkpoint.save(dir, {
            config: policy.config,
            params: policy.params,
            tokenizer,
            meta: { ...meta, dpo: { pairs: options.pairs, init: options.init, loss: loss.config, epochs, batchSize, lr, steps } }
          }),
        catch: (e) => fail(`saving ${dir}: ${(e as Error).message}`)
      })
      reporter.log(`dpo: ${pairs.length} pairs, ${steps} steps; loss ${first.loss?.toFixed(4)} -> ${last.loss?.toFixed(4)}, margin ${first.rewardMargin?.toFixed(4)} -> ${last.rewardMargin?.toFixed(4)}; ${dir}`)
      return { pairs: pairs.length, steps, first, last, checkpoint: dir }
    }).pipe(Effect.ensuring(release))
  })
