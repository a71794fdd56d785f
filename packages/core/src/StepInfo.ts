/**
 * `StepInfo`: what an `AdvantageTransform` may know about the step beside the scores themselves.
 */

export interface StepInfo {
  /** Optimizer step (0-based). */
  readonly step: number
  /**
   * Response length in tokens per rollout (same order as the Scores), for estimators that weight
   * by tokens (REINFORCE++-baseline's token-level whitening).
   */
  readonly lengths?: Int32Array
}

export const at = (step: number, lengths?: ArrayLike<number>): StepInfo =>
  lengths === undefined ? { step } : { step, lengths: Int32Array.from(lengths) }
