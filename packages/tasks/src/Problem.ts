/**
 * `Problem` and `Demonstration`: the data every task and loader produces. A problem is a prompt and
 * its gold answer; a demonstration is the completion a perfect policy would write for it (used for
 * SFT warm starts), ending with the task's stop marker.
 */

export interface Problem {
  /** Stable identifier: `<task>/<split>/<seed>/<index>` for procedural tasks, `<file>:<line>` for loaded rows. */
  readonly id: string
  /** The text the policy is conditioned on. */
  readonly prompt: string
  /** Gold answer: a plain integer string where possible (math tasks), else what the task's `verify` expects. */
  readonly answer: string
  /** Task-specific data (operands, difficulty, the raw row's extra fields, ...). */
  readonly meta?: Readonly<Record<string, unknown>>
}

export interface Demonstration {
  readonly prompt: string
  /** What the policy should generate after `prompt`, stop marker included. */
  readonly completion: string
}

/** The three splits of a procedural task: training, in-distribution test, out-of-distribution test. */
export type SplitName = "train" | "test" | "ood"

export const splitNames: ReadonlyArray<SplitName> = ["train", "test", "ood"]
