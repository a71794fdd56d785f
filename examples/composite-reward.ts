/**
 * Train on a real-valued reward of your own: correctness plus a format bonus, in place of the task's
 * 0/1 grade. Evaluation (Mean@n, Pass@n) still grades correctness only.
 *
 *   duet train --recipe examples/composite-reward.ts
 *
 * The run's recipe.json records `rl.reward: { kind: "custom", name: "correctAndFormat" }`.
 */
import { defineTrainer } from "@duet/pipeline"
import type { Problem } from "@duet/tasks"
import { FormatReward } from "@duet/verifiers"

/** A finished answer: digits (optionally signed) then the stop token, nothing else. */
const answerLine = /^-?\d+\n/

/**
 * 1 for the right answer (the first line, as the task grades it) plus 0.2 for a well-formed one:
 * 0, 0.2, 1 or 1.2.
 */
export const correctAndFormat = (completion: string, problem: Problem): number => {
  const correct = completion.split("\n")[0]!.trim() === problem.answer ? 1 : 0
  const format = FormatReward.check(completion, { pattern: answerLine }).reward
  return correct + 0.2 * format
}

export default defineTrainer({
  extends: "../recipes/rloo.yaml",
  recipe: { name: "composite-reward" },
  reward: correctAndFormat
})
