/**
 * `Rollout` and `Group`: one sampled completion of a prompt, and the completions of one prompt.
 */

export type FinishReason = "stop" | "length"

export interface Rollout {
  /** Id of the prompt this rollout answers (its group). */
  readonly promptId: number
  readonly prompt: string
  readonly completion: string
  /** Completion token ids (excluding the prompt). */
  readonly tokens: Int32Array
  /** Log-probability of each completion token under the sampling policy. */
  readonly logprobs: Float32Array
  /** "stop" when a stop token ended it, "length" when max tokens did (verl/vLLM naming). */
  readonly finishReason: FinishReason
}

export interface Group {
  readonly promptId: number
  readonly rollouts: ReadonlyArray<Rollout>
}

/** Groups rollouts by prompt id, keeping first-appearance order. */
export const groupByPrompt = (rollouts: ReadonlyArray<Rollout>): Group[] => {
  const byId = new Map<number, Rollout[]>()
  for (const r of rollouts) {
    const list = byId.get(r.promptId)
    if (list) list.push(r)
    else byId.set(r.promptId, [r])
  }
  return [...byId].map(([promptId, rs]) => ({ promptId, rollouts: rs }))
}
