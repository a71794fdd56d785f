/**
 * A run directory: `recipe.json`, `metrics.jsonl` (one JSON object per line: RL steps, evaluations,
 * SFT progress), `checkpoints/step-NNNNNN/` (safetensors + config.json) with `checkpoints/latest`
 * naming the newest complete one, and `summary.json` at the end. Every write that a crash could
 * tear (pointer, summary, a rewritten metrics file) goes to a temp file that is fsynced and renamed.
 */
import { Effect } from "effect"
import { appendFile, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import * as Tensorboard from "./Tensorboard.js"

export class RunDirError extends Schema.TaggedError<RunDirError>()("RunDirError", { message: Schema.String }) {}

const io = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new RunDirError({ message: `${what}: ${e instanceof Error ? e.message : String(e)}` }) })

export const paths = (dir: string) => ({
  recipe: join(dir, "recipe.json"),
  metrics: join(dir, "metrics.jsonl"),
  checkpoints: join(dir, "checkpoints"),
  latest: join(dir, "checkpoints", "latest"),
  summary: join(dir, "summary.json"),
  checkpoint: (step: number) => join(dir, "checkpoints", `step-${String(step).padStart(6, "0")}`)
})

/** Writes a file atomically: temp file, fsync, rename. */
export const writeAtomic = (path: string, text: string) =>
  io(`write ${path}`, async () => {
    const tmp = `${path}.tmp-${process.pid}`
    const fh = await open(tmp, "w")
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  })

export const ensure = (dir: string) => io(`create ${dir}`, () => mkdir(join(dir, "checkpoints"), { recursive: true }).then(() => undefined))

/** Appends one record to metrics.jsonl, and its numeric fields to the run's TensorBoard events (`Tensorboard.log`). */
export const appendMetrics = (dir: string, record: Record<string, unknown>) =>
  io(`append ${paths(dir).metrics}`, () => appendFile(paths(dir).metrics, JSON.stringify(record) + "\n")).pipe(
    Effect.andThen(io(`append ${Tensorboard.directory(dir)}`, async () => Tensorboard.log(dir, record)))
  )

/** Every parseable record of metrics.jsonl (a torn last line from a crash is dropped). */
export const readMetrics = (dir: string) =>
  io(`read ${paths(dir).metrics}`, async () => {
    if (!existsSync(paths(dir).metrics)) return [] as Array<Record<string, unknown>>
    const text = await readFile(paths(dir).metrics, "utf8")
    const out: Array<Record<string, unknown>> = []
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue
      try {
        out.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // torn write at a crash: ignore
      }
    }
    return out
  })

/** On resume from `step`: keeps only the records written up to that checkpoint. */
export const truncateMetrics = (dir: string, keep: (r: Record<string, unknown>) => boolean) =>
  Effect.gen(function* () {
    const records = yield* readMetrics(dir)
    yield* writeAtomic(paths(dir).metrics, records.filter(keep).map((r) => JSON.stringify(r) + "\n").join(""))
  })

/** The newest complete checkpoint's step, if any. */
export const latestStep = (dir: string) =>
  io(`read ${paths(dir).latest}`, async () => {
    if (!existsSync(paths(dir).latest)) return undefined
    const text = (await readFile(paths(dir).latest, "utf8")).trim()
    const m = text.match(/^step-(\d+)$/)
    if (!m) throw new Error(`expected "step-NNNNNN", found ${JSON.stringify(text.slice(0, 40))}`)
    return Number(m[1])
  })

export const setLatest = (dir: string, step: number) =>
  writeAtomic(paths(dir).latest, `step-${String(step).padStart(6, "0")}\n`)

/** Removes checkpoints other than the newest `keep` (plus the latest). */
export const prune = (dir: string, steps: ReadonlyArray<number>, keep: number) =>
  io("prune checkpoints", async () => {
    const sorted = [...steps].sort((a, b) => a - b)
    for (const s of sorted.slice(0, Math.max(0, sorted.length - keep))) await rm(paths(dir).checkpoint(s), { recursive: true, force: true })
  })

export const writeJson = (path: string, value: unknown) => writeAtomic(path, JSON.stringify(value, null, 2) + "\n")

export const writeText = (path: string, text: string) => io(`write ${path}`, () => writeFile(path, text))
