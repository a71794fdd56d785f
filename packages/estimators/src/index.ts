/**
 * @duet/estimators — advantage estimators as Optax-style `AdvantageTransform`s: small blocks
 * (subtract a baseline, scale by a std, whiten over tokens) and the recipes built from them (GRPO,
 * Dr.GRPO, 2-GRPO, RLOO, REINFORCE++-baseline, a pass@k advantage; one `Registry` of them) plus 2-GRPO's DPO view as
 * preference pairs. Pure: no effect, no tfjs.
 */

// Blocks
export * as GroupMean from "./GroupMean.js"
export * as GroupStd from "./GroupStd.js"
export * as LeaveOneOut from "./LeaveOneOut.js"
export * as Scale from "./Scale.js"
export * as TokenWhitening from "./TokenWhitening.js"
// Recipes
export * as Grpo from "./Grpo.js"
export * as DrGrpo from "./DrGrpo.js"
export * as TwoGrpo from "./TwoGrpo.js"
export * as Rloo from "./Rloo.js"
export * as ReinforcePlusPlusBaseline from "./ReinforcePlusPlusBaseline.js"
export * as GrpoPassK from "./GrpoPassK.js"
export * as PreferencePairs from "./PreferencePairs.js"
export * as EstimatorNames from "./EstimatorNames.js"
export * as EstimatorEntry from "./EstimatorEntry.js"
export * as Registry from "./Registry.js"

// Flat names, so call sites can name a recipe or block directly (grpo, subtractGroupMean, ...)
export { subtractGroupMean } from "./GroupMean.js"
export { scaleByGroupStd, stdKinds } from "./GroupStd.js"
export type { GroupStdOptions, StdKind } from "./GroupStd.js"
export { subtractLeaveOneOutMean } from "./LeaveOneOut.js"
export { scaleBy } from "./Scale.js"
export { whitenByTokens } from "./TokenWhitening.js"
export type { TokenWhiteningOptions } from "./TokenWhitening.js"
export { grpo } from "./Grpo.js"
export type { GrpoOptions } from "./Grpo.js"
export { drGrpo } from "./DrGrpo.js"
export { twoGrpo } from "./TwoGrpo.js"
export { rloo } from "./Rloo.js"
export { reinforcePlusPlusBaseline } from "./ReinforcePlusPlusBaseline.js"
export type { ReinforcePlusPlusBaselineOptions } from "./ReinforcePlusPlusBaseline.js"
export { grpoPassK } from "./GrpoPassK.js"
export type { GrpoPassKOptions } from "./GrpoPassK.js"
export { preferencePairs } from "./PreferencePairs.js"
export type { PreferencePair } from "./PreferencePairs.js"
export { byName, estimatorNames, isEstimatorName, optionsUsedBy, parseEstimatorName } from "./EstimatorNames.js"
export type { ByNameOptions, EstimatorName } from "./EstimatorNames.js"
export type { EstimatorSpec } from "./Registry.js"
export type { OptionSpec, OptionsOf } from "./EstimatorEntry.js"
