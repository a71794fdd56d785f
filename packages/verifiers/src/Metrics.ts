/**
 * Evaluation metrics over n samples per problem: Mean@n (average accuracy) and the unbiased
 * Pass@k estimator of Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
 * eq. 1: `pass@k = 1 - C(n-c, k) / C(n, k)`, computed as `1 - prod_{i=n-c+1..n} (1 - k/i)` for
 * numerical stability. verl's `best@k` is a bootstrap and reads low (1 of 4 at k=4: 0.684 vs 1).
 */
import { EmptyGroupError, InvalidArgumentError } from "@duet/core"

const checkCount = (field: string, x: number, min: number): void => {
  if (!Number.isInteger(x) || x < min) throw new InvalidArgumentError(field, `must be an integer >= ${min}, got ${x}`)
}

/**
 * Unbiased pass@k for one problem with `n` samples of which `c` are correct (1 <= k <= n,
 * 0 <= c <= n). Chen et al. 2021: `1 - prod_{i=n-c+1..n} (1 - k/i)`; exactly 1 when `n - c < k`.
 */
export const passAtK = (n: number, c: number, k: number): number => {
  checkCount("n", n, 1)
  checkCount("c", c, 0)
  checkCount("k", k, 1)
  if (c > n) throw new InvalidArgumentError("c", `correct count ${c} exceeds sample count n = ${n}`)
  if (k > n) throw new InvalidArgumentError("k", `k = ${k} exceeds sample count n = ${n}`)
  if (n - c < k) return 1
  let allWrong = 1
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i
  return 1 - allWrong
}

const checkProblems = (correct: ReadonlyArray<ReadonlyArray<boolean>>): void => {
  if (correct.length === 0) throw new EmptyGroupError("correct: no problems")
  correct.forEach((row, i) => {
    if (row.length === 0) throw new EmptyGroupError(`correct[${i}]: problem ${i} has no samples`)
  })
}

/** Mean@n: per-problem accuracy (correct samples / samples), averaged over problems. */
export const meanAtK = (correct: ReadonlyArray<ReadonlyArray<boolean>>): number => {
  checkProblems(correct)
  let total = 0
  for (const row of correct) total += row.filter(Boolean).length / row.length
  return total / correct.length
}

/** Unbiased pass@k averaged over problems (each problem may have its own n >= k). */
export const meanPassAtK = (correct: ReadonlyArray<ReadonlyArray<boolean>>, k: number): number => {
  checkProblems(correct)
  let total = 0
  correct.forEach((row, i) => {
    if (row.length < k) throw new InvalidArgumentError(`correct[${i}]`, `has ${row.length} samples, pass@${k} needs at least ${k}`)
    total += passAtK(row.length, row.filter(Boolean).length, k)
  })
  return total / correct.length
}
