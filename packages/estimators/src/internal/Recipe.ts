/**
 * How a recipe is made from blocks: `named` gives it its name and minimum group size, and the
 * returned `update` checks the group sizes first, so the error names the recipe the user asked for
 * ("grpo: group 7 has 1 rollout, needs at least 2") rather than one of its blocks.
 */
import { named, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkScores } from "./Checks.js"

export type GroupSizeRule = { readonly min: number } | { readonly exact: number }

export const recipe = <S>(
  name: string,
  sizes: GroupSizeRule,
  transform: AdvantageTransform<S>
): AdvantageTransform<S> => {
  const base = named(name, transform, "min" in sizes ? sizes.min : sizes.exact)
  return {
    ...base,
    update: (scores, state, info) => {
      checkScores(scores, name)
      Scores.requireGroupSizes(Scores.groupIndex(scores), name, sizes)
      return transform.update(scores, state, info)
    }
  }
}
