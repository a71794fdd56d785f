/**
 * Non-finite guard: an optimizer step whose loss or gradient norm is NaN or infinite, or a policy
 * whose parameters are, stops the run with an error naming the step and the learning rate that
 * most likely caused it; such parameters are never checkpointed, and `eval` refuses them.
 * (A NaN loss leaves the parameters NaN after the update: skipping the step cannot undo it, so the
 * run stops and the last good checkpoint stays the newest.)
 */
import type { tf } from "@duet/engine"

/** Parameters holding NaN or +-Infinity: how many values in all, and the first tensor's name. */
export const nonFinite = (params: ReadonlyMap<string, tf.Tensor>): { count: number; first?: string } => {
  let count = 0
  let first: string | undefined
  for (const [name, t] of params) {
    const data = t.dataSync()
    let here = 0
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) here++
    if (here > 0 && first === undefined) first = name
    count += here
  }
  return first === undefined ? { count } : { count, first }
}

const lrText = (phase: "sft" | "rl", lr: number, configured: number) =>
  `${phase}.lr is ${configured}` + (lr === configured ? "" : ` (${lr} at this step of the schedule)`)

/** The message for a step whose loss or gradient norm is not finite; undefined when both are. */
export const stepProblem = (
  phase: "sft" | "rl",
  step: number,
  values: { readonly loss: number; readonly gradNorm: number },
  lr: number,
  configured: number
): string | undefined => {
  const bad = (["loss", "gradNorm"] as const).map((k) => [k, values[k]] as const).filter(([, v]) => !Number.isFinite(v))
  if (bad.length === 0) return undefined
  return (
    `${phase} step ${step + 1}: ${bad.map(([k, v]) => `${k} is ${v}`).join(", ")}; the parameters are no longer finite. ` +
    `The learning rate is the likely cause: ${lrText(phase, lr, configured)} (try 10-100x lower). ` +
    "Nothing was checkpointed after the last good step."
  )
}

/** Global L2 norm of the parameters. */
export const norm = (params: ReadonlyMap<string, tf.Tensor>): number => {
  let sum = 0
  for (const t of params.values()) {
    const data = t.dataSync()
    for (let i = 0; i < data.length; i++) sum += data[i]! * data[i]!
  }
  return Math.sqrt(sum)
}

/**
 * One update that multiplies the parameter norm by more than this has blown the policy up even if
 * every value is still finite: AdamW moves each weight by about `lr` per step, so only a learning
 * rate near 1 or above gets there (at 1e-3 a step changes the norm by well under 1%).
 */
export const maxNormGrowth = 10

/** The message for an update that blew the parameter norm up; undefined when it did not. */
export const jumpProblem = (phase: "sft" | "rl", step: number, before: number, after: number, lr: number, configured: number): string | undefined => {
  if (Number.isFinite(after) && !(before > 0 && after > maxNormGrowth * before)) return undefined
  return (
    `${phase} step ${step + 1}: the parameter norm went from ${before.toPrecision(3)} to ${after.toPrecision(3)} in one update ` +
    `(more than ${maxNormGrowth}x): the policy is destroyed. ${lrText(phase, lr, configured)}; try 100-1000x lower. ` +
    "Nothing was checkpointed after the last good step."
  )
}
