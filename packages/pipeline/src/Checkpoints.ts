/**
 * The checkpoints of a run directory as a store: the newest intact one to resume from (verified by
 * the SHA-256 of each file that `config.json` lists; a corrupt or half-deleted `latest` falls back
 * to the previous good one, loudly), the temp files and staging folders that killed saves left
 * behind, and pruning to the newest `keepLast` (step 0, the warm start, is always kept: a resume
 * reloads the reference policy from it and `--init` starts other runs from it).
 */
import { Effect, Schema } from "effect"
import { readdir, readFile, rm } from "node:fs/promises"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Checkpoint } from "@duet/model"
import * as FiniteGuard from "./FiniteGuard.js"
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
const unusable = (loaded: Checkpoint.Loaded): string | undefined => {
  if (loaded.optimizer === undefined) {
    return `has no optimizer state (${Checkpoint.OPTIMIZER_FILE}); resuming would restart AdamW's moments and silently change the run`
  }
  const bad = FiniteGuard.nonFinite(loaded.params)
  if (bad.count > 0) return `${bad.count} parameters are not finite (first in ${bad.first})`
  return undefined
}

export interface Resumable {
  readonly step: number
  readonly loaded: Checkpoint.Loaded
  /** One line per newer checkpoint that was skipped, and why. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * The newest checkpoint a run can resume from: the one `latest` names, else (corrupt, truncated,
 * missing its optimizer state, non-finite) the next older intact one. Undefined when the run has
 * no checkpoint at all; an error when it has some but none is intact.
 */
export const newestIntact = (runDir: string) =>
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
      const loaded = yield* Effect.tryPromise({ try: () => Checkpoint.load(dir), catch: (e) => (e instanceof Error ? e.message : String(e)) }).pipe(
        Effect.result
      )
      if (loaded._tag === "Failure") {
        skipped.push(loaded.failure.startsWith(dir) ? loaded.failure : `${dir}: ${loaded.failure}`)
        continue
      }
      const why = unusable(loaded.success)
      if (why !== undefined) {
        Checkpoint.dispose(loaded.success)
        skipped.push(`${dir}: ${why}`)
        continue
      }
      return { step, loaded: loaded.success, skipped } satisfies Resumable
    }
    return yield* new CheckpointStoreError({ message: `${p.checkpoints}: no intact checkpoint to resume from:\n  ${skipped.join("\n  ")}` })
  })

/** Removes all but the newest `keepLast` checkpoints (never step 0, never the one `latest` names). */
export const prune = (runDir: string, keepLast: number, latest: number) =>
  Effect.gen(function* () {
    const all = yield* steps(runDir)
    const drop = all.slice(keepLast).filter((s) => s !== 0 && s !== latest)
    yield* io("prune checkpoints", async () => {
      for (const s of drop) await rm(RunDir.paths(runDir).checkpoint(s), { recursive: true, force: true })
    })
    return drop
  })
