/**
 * @duet/losses — tfjs losses for RLVR: the policy losses (PPO-clip with clip-higher and dual clip,
 * GSPO), the four aggregations of verl/TRL as function values, KL-to-reference estimators, token
 * entropy, the DPO family, and the zero-advantage row-skipping contract.
 */
export * as Aggregation from "./Aggregation.js"
export * as Dpo from "./Dpo.js"
export * as Entropy from "./Entropy.js"
export * as Gspo from "./Gspo.js"
export * as Kl from "./Kl.js"
export * as Metrics from "./Metrics.js"
export * as Normaliser from "./Normaliser.js"
export * as PolicyLoss from "./PolicyLoss.js"
export * as PpoClip from "./PpoClip.js"
export * as ZeroAdvantageSkip from "./ZeroAdvantageSkip.js"
export { tokenMean, seqMeanTokenMean, seqMeanTokenSum, seqMeanTokenSumNorm } from "./Aggregation.js"
export type { Aggregation as AggregationFn } from "./Aggregation.js"
export { ppoClip } from "./PpoClip.js"
export { gspo } from "./Gspo.js"
export { tokenEntropy } from "./Entropy.js"
export { canSkipZeroAdvantageRows, ZeroAdvantageSkipRefusedError } from "./ZeroAdvantageSkip.js"
export * as LossEntry from "./LossEntry.js"
export * as Registry from "./Registry.js"
export type { LossSpec, LossName } from "./Registry.js"
