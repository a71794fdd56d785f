/**
 * An advantage estimator that is not built into duet, written as a user would: a block of your own
 * (`sign`) chained after one of duet's (`subtractGroupMean`). Only WHETHER a rollout beat its
 * group's mean counts, not by how much:
 *
 *   A_i = sign(r_i - mean_g)
 *
 * With two rollouts per prompt this is RLOO (+-1 per discordant pair, exactly unbiased); with more it
 * is not a multiple of the policy gradient (`theory-check.ts` measures by how much).
 */
import { Scores, chain, named, stateless } from "@duet/core"
import { subtractGroupMean } from "@duet/estimators"

/** +1, 0 or -1 per row; any group size (minimum 1). */
export const sign = stateless("sign", 1, (scores) => Scores.withValues(scores, scores.values.map(Math.sign)))

export const meanSign = named("mean-sign", chain(subtractGroupMean(), sign), 2)
