/**
 * The `Reward` service: a real-valued reward for a completion (its decoded text) of a problem. The
 * rollout stage requires it, so what the trainer optimises is a layer away:
 *
 *   Reward.layerTask(task)          the task's own 0/1 correctness grade (the default)
 *   Reward.layerVerifier            a `@duet/verifiers` Verifier's `reward` against the gold answer
 *                                   (math by value, GSM8K, exact, format, weighted composites)
 *   Reward.layerFunction(fn)        a user's `(completion, problem) => number`
 *
 * Every reward is checked finite: a bad value names the reward, the problem and the completion.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Problem, Task } from "@duet/tasks"
import { Verifier } from "@duet/verifiers"
import type { VerifierShape } from "@duet/verifiers"
import * as Setup from "./Setup.js"

export class RewardError extends Schema.TaggedError<RewardError>()("RewardError", { message: Schema.String }) {}

/** A reward function as users write it: higher is better; the estimator turns rewards into advantages. */
export type RewardFn = (completion: string, problem: Problem) => number

export interface Shape {
  readonly name: string
  readonly score: (completion: string, problem: Problem) => Effect.Effect<number, RewardError>
}

export class Reward extends Context.Service<Reward, Shape>()("@duet/pipeline/Reward") {}

const finite = (name: string, completion: string, problem: Problem, r: unknown): Effect.Effect<number, RewardError> =>
  typeof r === "number" && Number.isFinite(r)
    ? Effect.succeed(r)
    : Effect.fail(
        new RewardError({
          message: `the reward "${name}" gave ${String(r)} for problem ${problem.id} (completion ${JSON.stringify(completion)}); a reward must be a finite number`
        })
      )

/** A reward from a plain function (a throw or a non-finite value is a `RewardError` naming it). */
export const fromFunction = (fn: RewardFn, name: string = fn.name === "" ? "reward" : fn.name): Shape => ({
  name,
  score: (completion, problem) =>
    Effect.try({
      try: () => fn(completion, problem),
      catch: (e) => new RewardError({ message: `the reward "${name}" failed on problem ${problem.id}: ${e instanceof Error ? e.message : String(e)}` })
    }).pipe(Effect.flatMap((r) => finite(name, completion, problem, r)))
})

/** The task's 0/1 correctness grade (what evaluation counts). */
export const fromTask = (task: Task.Task): Shape =>
  fromFunction((completion, problem) => (Setup.grade(task, completion, problem) ? 1 : 0), `${task.name}-correct`)

/** A Verifier's reward against the problem's gold answer (only the first line when the task stops on "\n"). */
export const fromVerifier = (verifier: VerifierShape, stop?: string): Shape => ({
  name: verifier.name,
  score: (completion, problem) => {
    const text = stop === undefined ? completion : completion.split(stop)[0]!
    return verifier.verify(text, problem.answer).pipe(Effect.flatMap((v) => finite(verifier.name, completion, problem, v.reward)))
  }
})

export const layer = (shape: Shape): Layer.Layer<Reward> => Layer.succeed(Reward, shape)
export const layerFunction = (fn: RewardFn, name?: string): Layer.Layer<Reward> => layer(fromFunction(fn, name))
export const layerTask = (task: Task.Task): Layer.Layer<Reward> => layer(fromTask(task))
/** The reward of the `Verifier` service in context (provide e.g. `Verifier.layerMath`). */
export const layerVerifier = (stop?: string): Layer.Layer<Reward, never, Verifier> =>
  Layer.effect(Reward, Effect.map(Verifier, (v: VerifierShape) => fromVerifier(v, stop)))
