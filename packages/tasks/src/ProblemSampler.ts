/**
 * `ProblemSampler`: draws the distinct problems of one split of a procedural task. Draws come from
 * `Rng.seeded(seed).fold(split)`, so a split is a pure function of (task config, split, size, seed);
 * a candidate is kept when its prompt is new and (for train/test) lies on that split's side of the
 * task's `Partition`. OOD candidates are out of the training distribution by construction.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import * as Partition from "./Partition.js"
import type { Problem, SplitName } from "./Problem.js"
import type { SplitOptions } from "./Task.js"

/** A drawn problem before it gets its id. */
export interface Candidate {
  readonly prompt: string
  readonly answer: string
  readonly meta: Readonly<Record<string, unknown>>
}

const splitKey: Record<SplitName, number> = { train: 1, test: 2, ood: 3 }

export const checkOptions = (task: string, split: string, options: SplitOptions): void => {
  if (!Number.isInteger(options.size) || options.size < 0) {
    throw new InvalidArgumentError(`${task}.${split}.size`, `is ${options.size}; it must be a non-negative integer`)
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new InvalidArgumentError(`${task}.${split}.seed`, `is ${options.seed}; it must be a safe integer`)
  }
}

/**
 * Draws `size` distinct problems with `draw` (which may return undefined to reject a draw).
 * Fails with `InvalidArgumentError` when the space runs dry: after `100 * size + 10000` draws, or
 * sooner, once `max(10000, 20 * found)` draws in a row turned up nothing new. With `u` unseen
 * problems among `S`, a false stop needs `20 * found` misses at rate `u / S`: probability
 * `exp(-20 * found * u / S)`, at most `e^-20` near exhaustion. A size far beyond the space thus
 * fails in a few times the space's size, not in `100 * size` draws.
 */
export const sample = (args: {
  readonly task: string
  readonly split: SplitName
  readonly options: SplitOptions
  readonly partition: Partition.Partition
  readonly draw: (rng: Rng, split: SplitName) => Candidate | undefined
}): Problem[] => {
  const { task, split, options, partition, draw } = args
  checkOptions(task, split, options)
  const rng = Rng.seeded(options.seed).fold(splitKey[split])
  const seen = new Set<string>()
  const problems: Problem[] = []
  const maxDraws = 100 * options.size + 10_000
  let draws = 0
  let sinceNew = 0
  while (problems.length < options.size) {
    if (draws++ >= maxDraws || sinceNew++ >= Math.max(10_000, 20 * problems.length)) {
      throw new InvalidArgumentError(
        `${task}.${split}.size`,
        `is ${options.size}, but only ${problems.length} distinct ${split} problems turned up in ${draws - 1} draws; ` +
          "widen the task's ranges or ask for fewer"
      )
    }
    const c = draw(rng, split)
    if (c === undefined || seen.has(c.prompt)) continue
    if (split !== "ood" && Partition.sideOf(partition, c.prompt) !== split) continue
    seen.add(c.prompt)
    sinceNew = 0
    problems.push({ id: `${task}/${split}/${options.seed}/${problems.length}`, prompt: c.prompt, answer: c.answer, meta: c.meta })
  }
  return problems
}
