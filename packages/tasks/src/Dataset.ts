/**
 * `Dataset`: a named list of problems from one split, plus the small helpers a run needs around
 * it: draw one from a task, split a loaded file into train and test, summarise sizes and lengths.
 */
import { InvalidArgumentError } from "@duet/core"
import * as Partition from "./Partition.js"
import type { Problem, SplitName } from "./Problem.js"
import type { SplitOptions, Task } from "./Task.js"

export interface Dataset {
  /** Task or file the problems come from. */
  readonly name: string
  readonly split: string
  readonly problems: ReadonlyArray<Problem>
}

export const make = (name: string, split: string, problems: ReadonlyArray<Problem>): Dataset => ({ name, split, problems })

/** One split of a procedural task. */
export const fromTask = (task: Task, split: SplitName, options: SplitOptions): Dataset =>
  make(task.name, split, task.split(split, options))

/** The three splits of a procedural task, each with its own size; seeds default to 0. */
export const splits = (
  task: Task,
  sizes: { readonly train: number; readonly test: number; readonly ood: number },
  seed = 0
): { readonly train: Dataset; readonly test: Dataset; readonly ood: Dataset } => ({
  train: fromTask(task, "train", { size: sizes.train, seed }),
  test: fromTask(task, "test", { size: sizes.test, seed }),
  ood: fromTask(task, "ood", { size: sizes.ood, seed })
})

/**
 * Splits loaded problems into train and test by the hash of their prompt (see `Partition`), so
 * the assignment does not depend on file order; duplicate prompts land on the same side.
 */
export const holdOut = (
  dataset: Dataset,
  options: { readonly testShare: number; readonly salt?: string }
): { readonly train: Dataset; readonly test: Dataset } => {
  const partition = Partition.make(options.testShare, options.salt ?? dataset.name)
  const train: Problem[] = []
  const test: Problem[] = []
  for (const p of dataset.problems) (Partition.sideOf(partition, p.prompt) === "test" ? test : train).push(p)
  return { train: make(dataset.name, "train", train), test: make(dataset.name, "test", test) }
}

export interface Summary {
  readonly name: string
  readonly split: string
  readonly size: number
  readonly distinctPrompts: number
  /** Longest and mean prompt, in characters. */
  readonly promptMax: number
  readonly promptMean: number
  /** Longest gold answer, in characters. */
  readonly answerMax: number
}

export const summary = (dataset: Dataset): Summary => {
  const ps = dataset.problems
  let promptMax = 0
  let promptSum = 0
  let answerMax = 0
  for (const p of ps) {
    promptMax = Math.max(promptMax, p.prompt.length)
    promptSum += p.prompt.length
    answerMax = Math.max(answerMax, p.answer.length)
  }
  return {
    name: dataset.name,
    split: dataset.split,
    size: ps.length,
    distinctPrompts: new Set(ps.map((p) => p.prompt)).size,
    promptMax,
    promptMean: ps.length === 0 ? 0 : promptSum / ps.length,
    answerMax
  }
}

/** A fixed-width table, one line per dataset: name, split, size, prompt max/mean, answer max. */
export const describe = (datasets: Dataset | ReadonlyArray<Dataset>): string => {
  const list = Array.isArray(datasets) ? (datasets as ReadonlyArray<Dataset>) : [datasets as Dataset]
  if (list.length === 0) throw new InvalidArgumentError("datasets", "is empty; nothing to describe")
  const rows = [
    ["dataset", "split", "size", "prompt max", "prompt mean", "answer max"],
    ...list.map(summary).map((s) => [
      s.name,
      s.split,
      String(s.size),
      String(s.promptMax),
      s.promptMean.toFixed(1),
      String(s.answerMax)
    ])
  ]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n")
}
