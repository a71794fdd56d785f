/**
 * Scaling by the group standard deviation: `A_i = x_i / (std_{g(i)} + eps)`, the second half of
 * GRPO (DeepSeekMath, Shao et al. 2024, arXiv:2402.03300). verl, TRL and OpenRLHF all use the
 * UNBIASED std (`torch.std`, divide by n - 1) and put eps outside the square root; eps is 1e-6 in
 * verl, 1e-4 in TRL, 1e-9 in OpenRLHF. The 2-GRPO paper's Prop. 4.1 uses the population std
 * (divide by n).
 */
import { InvalidArgumentError, stateless, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkEps, checkOutput, checkScores } from "./internal/Checks.js"
import { groupStds } from "./internal/GroupMoments.js"

/** Which standard deviation: `unbiased` divides the squared deviations by n - 1, `population` by n. */
export type StdKind = "unbiased" | "population"

export const stdKinds: ReadonlyArray<StdKind> = ["unbiased", "population"]

export interface GroupStdOptions {
  /** Added to the std, outside the square root. Default 1e-6 (verl). */
  readonly eps?: number | undefined
  /** Default "unbiased" (verl, TRL, OpenRLHF). */
  readonly std?: StdKind | undefined
}

/** Validates a `std` option coming from untyped input (a CLI flag, a recipe file). */
export const checkStdKind = (std: unknown, transform: string): StdKind => {
  if (std !== "unbiased" && std !== "population") {
    throw new InvalidArgumentError("std", `${transform}: is ${JSON.stringify(std)}; expected "unbiased" or "population"`)
  }
  return std
}

const name = "scale-by-group-std"

/**
 * Divides each row by its group's std (of this block's input values) plus eps. The std is taken
 * about the group mean, so the block needs no centred input, though GRPO centres first. With the
 * unbiased std a group needs at least 2 rows (`GroupSizeError`). A group whose `std + eps` is 0
 * (eps = 0 and all values equal) is left unscaled, so a centred constant group stays exactly 0
 * instead of becoming 0/0 = NaN.
 */
export const scaleByGroupStd = (opts: GroupStdOptions = {}): AdvantageTransform<void> => {
  const eps = checkEps(opts.eps ?? 1e-6, name)
  const std = checkStdKind(opts.std ?? "unbiased", name)
  return stateless(name, std === "unbiased" ? 2 : 1, (scores) => {
    checkScores(scores, name)
    const index = Scores.groupIndex(scores)
    if (std === "unbiased") Scores.requireGroupSizes(index, name, { min: 2 })
    const denominators = groupStds(scores.values, index, std)
    for (let g = 0; g < index.count; g++) denominators[g]! += eps
    const out = new Float64Array(scores.values.length)
    for (let i = 0; i < out.length; i++) {
      const d = denominators[index.ids[i]!]!
      out[i] = d === 0 ? scores.values[i]! : scores.values[i]! / d
    }
    return Scores.withValues(scores, checkOutput(out, name))
  })
}
