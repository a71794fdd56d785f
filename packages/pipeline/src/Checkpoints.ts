/**
 * The checkpoints of a run directory as a store: the newest intact one to resume from (verified by
 * the SHA-256 of each file that `config.json` lists; a corrupt or half-deleted `latest` falls back
 * to the previous good one, loudly), the temp files and staging folders that killed saves left
 * behind, and pruning to the newest `keepLast` (step 0, the warm start, is always kept: a resume
 * reloads the reference policy from it and `--init` starts other runs from it), keeping the best
 * checkpoint by held-out evaluation too (`checkpoint: { every, keepLast, keepBest }`, `afterSave`).
 */
import { Effect, Schema } from "effect"
import { readdir, readFile, rm } from "node:fs/promises"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Checkpoint } from "@duet/model"
import * as FiniteGuard from "./FiniteGuard.js"
import type * as PolicyStore from "./PolicyStore.js"
import * as RunDir from "./RunDir.js"

export class CheckpointStoreError extends Schema.TaggedError<CheckpointStoreError>()("CheckpointStoreError", { message: Schema.String }) {}

const io = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new CheckpointStoreError({ message: `${what}: ${e instanceof Error ? e.message : String(e)}` }) })

/** Steps of the `step-NNNNNN` folders, newest first. */
export const steps = (runDir: string) =>
  io(`list ${RunDir.paths(runDir).checkpoints}`, async () => {
    const dir = RunDir.paths(runDir).checkpoints
    if (!existsSync(dir)) return [] as number[]
    return (await readdir(dir))
      .map((n) => n.match(/^step-(\d+)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a)
  })

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** `name.tmp-PID` (RunDir.writeAtomic) and `.step-N.tmp-PID-hex` / `file.tmp-PID-hex` (Checkpoint.save). */
const tempPid = (name: string): number | undefined => {
  const m = name.match(/\.tmp-(\d+)(?:-[0-9a-f]+)?$/)
  return m ? Number(m[1]) : undefined
}

/**
 * Removes what saves killed mid-way left behind: temp files and staging folders whose writing
 * process is gone, in the run directory, `checkpoints/` and each checkpoint. Returns their paths.
 */
export const cleanStale = (runDir: string) =>
  io("remove stale temp files", async () => {
    const removed: string[] = []
    const sweep = async (dir: string) => {
      if (!existsSync(dir)) return
      for (const name of await readdir(dir)) {
        const pid = tempPid(name)
        if (pid !== undefined && !alive(pid)) {
          await rm(join(dir, name), { recursive: true, force: true })
          removed.push(join(dir, name))
        }
      }
    }
    const p = RunDir.paths(runDir)
    await sweep(runDir)
    await sweep(p.checkpoints)
    if (existsSync(p.checkpoints)) {
      for (const name of await readdir(p.checkpoints)) if (/^step-\d+$/.test(name)) await sweep(join(p.checkpoints, name))
    }
    return removed
  })

/** Why a checkpoint cannot be resumed from, or undefined when it can. */
const unusable = (loaded: PolicyStore.Loaded): string | undefined => {
  if (loaded.optimizer === undefined) {
    return `has no optimizer state (${Checkpoint.OPTIMIZER_FILE}); resuming would restart AdamW's moments and silently change the run`
  }
  const bad = FiniteGuard.nonFinite(loaded.policy.params)
  if (bad.count > 0) return `${bad.count} parameters are not finite (first in ${bad.first})`
  return undefined
}

export interface Resumable {
  readonly step: number
  readonly loaded: PolicyStore.Loaded
  /** One line per newer checkpoint that was skipped, and why. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * The newest checkpoint a run can resume from: the one `latest` names, else (corrupt, truncated,
 * missing its optimizer state, non-finite) the next older intact one. Undefined when the run has
 * no checkpoint at all; an error when it has some but none is intact. `load` reads one checkpoint
 * (the run's `PolicyStore`: duet's GPT layout, or HF layout for HF models).
 */
export const newestIntact = (runDir: string, load: (dir: string) => Effect.Effect<PolicyStore.Loaded, { readonly message: string }>) =>
  Effect.gen(function* () {
    const p = RunDir.paths(runDir)
    const all = yield* steps(runDir)
    let pointer: number | undefined
    const skipped: string[] = []
    if (existsSync(p.latest)) {
      const text = (yield* io(`read ${p.latest}`, () => readFile(p.latest, "utf8"))).trim()
      const m = text.match(/^step-(\d+)$/)
      if (m) pointer = Number(m[1])
      else skipped.push(`${p.latest}: expected "step-NNNNNN", found ${JSON.stringify(text.slice(0, 40))}`)
    }
    if (pointer === undefined && all.length === 0) return undefined
    // Saves are atomic and `latest` moves after one completes: resume at or before what it names.
    const candidates = pointer === undefined ? all : [pointer, ...all.filter((s) => s < pointer)]
    for (const step of candidates) {
      const dir = p.checkpoint(step)
      const loaded = yield* load(dir).pipe(
        Effect.mapError((e) => e.message),
        Effect.result
      )
      if (loaded._tag === "Failure") {
        skipped.push(loaded.failure.startsWith(dir) ? loaded.failure : `${dir}: ${loaded.failure}`)
        continue
      }
      const why = unusable(loaded.success)
      if (why !== undefined) {
        loaded.success.dispose()
        loaded.success.policy.dispose()
        skipped.push(`${dir}: ${why}`)
        continue
      }
      return { step, loaded: loaded.success, skipped } satisfies Resumable
    }
    return yield* new CheckpointStoreError({ message: `${p.checkpoints}: no intact checkpoint to resume from:\n  ${skipped.join("\n  ")}` })
  })

/**
 * Removes all but the newest `keepLast` checkpoints; never step 0, never the one `latest` names,
 * never a step in `keep` (e.g. the best by evaluation, `bestStep`).
 */
export const prune = (runDir: string, keepLast: number, latest: number, keep: ReadonlyArray<number> = []) =>
  Effect.gen(function* () {
    const all = yield* steps(runDir)
    const drop = all.slice(keepLast).filter((s) => s !== 0 && s !== latest && !keep.includes(s))
    yield* io("prune checkpoints", async () => {
      for (const s of drop) await rm(RunDir.paths(runDir).checkpoint(s), { recursive: true, force: true })
    })
    return drop
  })

// ---- checkpoint: { every, keepLast, keepBest } ------------------------------------------------------

/** What the recipe asks: save every `every` RL steps (0: only at the end), keep the newest `keepLast` (all when absent), and the best. */
export interface Policy {
  readonly every: number
  readonly keepLast?: number
  /** Keep the checkpoint with the best held-out score (`metric`) too, pointed to by `checkpoints/best`. */
  readonly keepBest: boolean
  readonly metric: BestMetric
}

/** Which eval records rank checkpoints: the `field` of the records of `split` (higher is better). */
export interface BestMetric {
  readonly split: string
  readonly field: string
}

/** Test Mean@n: the `meanAtN` field of `kind: "eval"` records of split "test". */
export const defaultMetric: BestMetric = { split: "test", field: "meanAtN" }

/**
 * The policy of a recipe: `checkpoint: { every, keepLast?, keepBest? }` when present, else the older
 * `checkpointEvery` / `checkpointKeepLast` (without keeping the best, as before). Recipe.decode
 * refuses both spellings at once.
 */
export const policy = (recipe: {
  readonly checkpoint?: { readonly every: number; readonly keepLast?: number; readonly keepBest?: boolean }
  readonly checkpointEvery: number
  readonly checkpointKeepLast?: number
}): Policy => {
  const c = recipe.checkpoint
  if (c !== undefined) return { every: c.every, ...(c.keepLast === undefined ? {} : { keepLast: c.keepLast }), keepBest: c.keepBest ?? true, metric: defaultMetric }
  return { every: recipe.checkpointEvery, ...(recipe.checkpointKeepLast === undefined ? {} : { keepLast: recipe.checkpointKeepLast }), keepBest: false, metric: defaultMetric }
}

/** Is RL step `step` (1-based count of steps done) one to save at? The last step always is. */
export const due = (p: Policy, step: number, lastStep: number): boolean => (p.every > 0 && step % p.every === 0) || step === lastStep

/**
 * The step, among `candidates` (steps that have a checkpoint), whose eval record scores highest on
 * `metric`; the earliest on a tie (fewer updates for the same score). Undefined when none has one.
 * Step 0 (the warm start) counts like any other: RL that never beats it keeps it as the best.
 */
export const bestStep = (records: ReadonlyArray<Record<string, unknown>>, candidates: ReadonlyArray<number>, metric: BestMetric = defaultMetric): number | undefined => {
  let best: { step: number; score: number } | undefined
  for (const r of records) {
    if (r.kind !== "eval" || r.split !== metric.split) continue
    const step = r.step
    const score = r[metric.field]
    if (typeof step !== "number" || typeof score !== "number" || !Number.isFinite(score) || !candidates.includes(step)) continue
    if (best === undefined || score > best.score || (score === best.score && step < best.step)) best = { step, score }
  }
  return best?.step
}

export const bestPointer = (runDir: string) => join(RunDir.paths(runDir).checkpoints, "best")

/**
 * After a save at `latest`: points `checkpoints/best` at the best checkpoint by evaluation (when
 * `keepBest`) and prunes to `keepLast` around it. Call it after `RunDir.setLatest` and after the
 * step's evaluation record is appended. Returns the dropped steps and the best step.
 */
export const afterSave = (runDir: string, p: Policy, latest: number) =>
  Effect.gen(function* () {
    let best: number | undefined
    if (p.keepBest) {
      const records = yield* RunDir.readMetrics(runDir).pipe(Effect.mapError((e) => new CheckpointStoreError({ message: e.message })))
      best = bestStep(records, yield* steps(runDir), p.metric)
      if (best !== undefined) {
        yield* RunDir.writeAtomic(bestPointer(runDir), `step-${String(best).padStart(6, "0")}\n`).pipe(
          Effect.mapError((e) => new CheckpointStoreError({ message: e.message }))
        )
      }
    }
    const dropped = p.keepLast === undefined ? [] : yield* prune(runDir, p.keepLast, latest, best === undefined ? [] : [best])
    return { dropped, best }
  })
