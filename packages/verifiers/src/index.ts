/**
 * @duet/verifiers — reward functions for RLVR: math-answer checking, GSM8K, exact match, format
 * rewards and a weighted composite, as the Effect `Verifier` service; Mean@k and unbiased Pass@k.
 */
export * as ExactMatch from "./ExactMatch.js"
export * as FormatReward from "./FormatReward.js"
export * as Gsm8k from "./Gsm8k.js"
export * as MathAnswer from "./MathAnswer.js"
export * as Metrics from "./Metrics.js"
export * as VerifyRows from "./VerifyRows.js"
export { BadRowError } from "./VerifyRows.js"
export { byName, UnknownVerifierError, Verifier } from "./Verifier.js"
export type { Explanation, Name as VerifierName, Shape as VerifierShape, Verdict, WeightedPart } from "./Verifier.js"
