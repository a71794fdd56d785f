/**
 * `Task`: a source of verifiable problems with fixed-seed splits. Procedural tasks (Arithmetic,
 * Countdown) implement it; the pipeline draws `split("train", { size, seed })` for training,
 * `"test"` for held-out in-distribution evaluation and `"ood"` for out-of-distribution evaluation,
 * builds its char tokenizer from `alphabet`, and stops sampling at `stop`.
 */
import type { Rng } from "@duet/core"
import type { Problem, SplitName } from "./Problem.js"

export interface SplitOptions {
  /** Number of distinct problems to draw. */
  readonly size: number
  /** Same seed, same problems, on every machine. */
  readonly seed: number
}

/** Upper bounds, in characters, on any prompt and any demonstration (stop marker included) of a split. */
export interface LengthBounds {
  readonly prompt: number
  readonly completion: number
}

export interface Task {
  readonly name: string
  /** Every character any prompt or demonstration of this task can contain, sorted by code point, no repeats. */
  readonly alphabet: string
  /** The marker that ends a completion (a single character). */
  readonly stop: string
  split(name: SplitName, options: SplitOptions): Problem[]
  /** The completion a perfect policy writes for `problem`, ending with `stop`. */
  demonstration(problem: Problem): string
  /** Exact check of a sampled completion (with or without the stop marker and what follows it). */
  verify?(completion: string, problem: Problem): boolean
  /** A plausible but WRONG completion (ending with `stop`), for deliberately noisy demonstrations. */
  corrupt?(problem: Problem, rng: Rng): string
  /** Bounds that hold for every problem this task can put in `split`. */
  maxLength?(split: SplitName): LengthBounds
  /**
   * An upper bound on the distinct problems `split` can hold (counted without the train/test
   * partition), so a size far beyond it is refused before any drawing.
   */
  capacity?(split: SplitName): number
}

/**
 * The answer part of a completion: the text before the first `stop` (all of it when the stop was
 * never generated, e.g. a completion cut at max tokens or with the stop already stripped), without
 * surrounding spaces.
 */
export const answerText = (completion: string, stop: string): string => {
  const at = stop === "" ? -1 : completion.indexOf(stop)
  return (at < 0 ? completion : completion.slice(0, at)).trim()
}
