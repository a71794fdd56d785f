/**
 * The exported stages and the plugins they run: the rollout stage over the Sampler and Reward
 * services, rewards from verifiers, the one Objective interface (entropy bonus, user objectives),
 * and the schedules a recipe can name (learning rate, temperature, adaptive KL) as a run records them.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Scores } from "@duet/core"
import { Engine, tf } from "@duet/engine"
import { twoGrpo } from "@duet/estimators"
import { ppoClip } from "@duet/losses"
import { Gpt } from "@duet/model"
import { Sampler } from "@duet/samplers"
import { Verifier } from "@duet/verifiers"
import { Objective, Plugins, Recipe, Rewards, Setup, Stages, Train, Update } from "../src/index.js"

const tiny = [
  'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
  'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "sft.steps=20",
  "sft.target=false",
  "sft.examples=40",
  "rl.trainProblems=40",
  "rl.promptsPerStep=16",
  "rl.steps=6",
  "rl.warmupSteps=0",
  "rl.sampling.maxTokens=4",
  "eval.problems=4",
  "eval.n=2",
  "eval.sampling.maxTokens=4",
  "checkpointEvery=0"
]
const recipeWith = (...extra: string[]) => Effect.runSync(Recipe.load(undefined, undefined, [...tiny, ...extra]))
const records = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((r) => r.kind === "rl")
const tmp = () => mkdtempSync(join(tmpdir(), "duet-stages-"))

describe("Stages.rollouts", () => {
  it("draws groupSize completions per problem from the Sampler service and scores each with the Reward service", async () => {
    const recipe = recipeWith()
    const setup = Effect.runSync(Setup.make(recipe))
    const problems = Stages.prompts(setup.splits.train, 5, recipe.seed, 0)
    const vocab = Array.from({ length: setup.codec.tokenizer.vocabSize }, (_, i) => i)
    const length = (completion: string) => completion.length
    const out = await Effect.runPromise(
      Stages.rollouts({ problems, codec: setup.codec, groupSize: 3, sampling: recipe.rl.sampling, seed: 7 }).pipe(
        Effect.provide(Layer.merge(Sampler.layerTest({ vocab, length: 3 }), Rewards.layerFunction(length)))
      )
    )
    expect(out.rows).toHaveLength(15)
    expect(out.rewardsByGroup.map((g) => g.length)).toEqual([3, 3, 3, 3, 3])
    for (const r of out.rows) expect(r.reward).toBe(r.text.length)
    // The same seed draws the same rollouts; the prompts are the problems' encodings.
    expect(out.rows[0]!.prompt).toEqual(setup.codec.prompt(problems[0]!.prompt))
  })

  it("a reward that throws or is not finite fails the stage naming the reward and the problem", async () => {
    const recipe = recipeWith()
    const setup = Effect.runSync(Setup.make(recipe))
    const problems = Stages.prompts(setup.splits.train, 2, recipe.seed, 0)
    const run = (fn: Rewards.RewardFn) =>
      Effect.runPromise(
        Stages.rollouts({ problems, codec: setup.codec, groupSize: 2, sampling: recipe.rl.sampling, seed: 1 }).pipe(
          Effect.provide(Layer.merge(Sampler.layerTest({ vocab: [1, 2], length: 2 }), Rewards.layerFunction(fn))),
          Effect.flip
        )
      )
    const infinite = () => Infinity
    expect((await run(infinite)).message).toMatch(/^reward: the reward "infinite" gave Infinity for problem arithmetic\//)
    const throws = () => {
      throw new Error("boom")
    }
    expect((await run(throws)).message).toMatch(/^reward: the reward "throws" failed on problem .*: boom/)
  })
})

describe("Rewards", () => {
  it("a verifier's reward against the gold answer, on the text before the stop token", () => {
    const math = Rewards.fromVerifier(Verifier.math(), "\n")
    const problem = { id: "p", prompt: "1/2+1/4=", answer: "0.75" }
    expect(Effect.runSync(math.score("3/4\nnoise", problem))).toBe(1)
    expect(Effect.runSync(math.score("0.7\n", problem))).toBe(0)
    const composite = Rewards.fromVerifier(Verifier.composite([{ verifier: Verifier.math(), weight: 1 }, { verifier: Verifier.format(), weight: 0.5 }]))
    const formatOnly = Effect.runSync(Verifier.format().verify("3/4", "0.75")).reward
    expect(Effect.runSync(composite.score("3/4", problem))).toBeCloseTo(1 + 0.5 * formatOnly, 12)
  })
})

describe("Objective", () => {
  beforeAll(async () => {
    await Engine.init({ threads: 1 })
  })

  it("the entropy bonus subtracts coef x token entropy from the PPO loss and turns skipping off", () => {
    const config = Gpt.makeConfig({ nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 12, vocabSize: 8 })
    const prompts = [Int32Array.from([0, 1]), Int32Array.from([0, 2]), Int32Array.from([0, 3]), Int32Array.from([0, 4])]
    const completions = [Int32Array.from([5, 6]), Int32Array.from([6]), Int32Array.from([7, 5, 6]), Int32Array.from([5])]
    const scores = Scores.make([1, 0, 1, 1], [0, 0, 1, 1]) // the second group has advantage 0
    const step = (entropyCoef: number) => {
      const policy = Gpt.init(config, 3)
      const old = Update.tokenLogprobRows(policy, prompts, completions)
      const objective = Objective.policyGradient({ loss: () => ppoClip({ entropyCoef }), kl: false, skipZeroAdvantage: true })
      const advantages = Float64Array.from([1, -1, 0, 0])
      const r = objective.step({ policy, optimizer: Update.makeOptimizer(policy, { lr: 0 }) }, { prompts, completions, oldLogprobs: old, scores, advantages }, { lr: 0, klCoef: 0 })
      policy.dispose()
      return r
    }
    const plain = step(0)
    const bonus = step(0.1)
    expect(plain.rowsComputed).toBe(2) // the zero-advantage group skipped
    expect(bonus.rowsComputed).toBe(4) // the entropy term needs every row
    expect(bonus.metrics.entropy!).toBeGreaterThan(0.5) // a random 8-token policy: close to ln 8
    expect(bonus.metrics.entropy!).toBeLessThan(Math.log(8) + 1e-6)
    // Skipping keeps the same loss (normalised by all rows); the bonus subtracts 0.1 x entropy.
    expect(bonus.loss).toBeCloseTo(plain.loss - 0.1 * bonus.metrics.entropy!, 5)
  })

  it("Update.tokenLogprobRows equals the sampler's log-probs shape: one array per completion token", () => {
    const config = Gpt.makeConfig({ nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 12, vocabSize: 8 })
    const policy = Gpt.init(config, 1)
    const rows = Update.tokenLogprobRows(policy, [Int32Array.from([0, 1])], [Int32Array.from([2, 3, 4])])
    expect(rows[0]!.length).toBe(3)
    const direct = tf.tidy(() => policy.sequenceLogprobs([Int32Array.from([0, 1])], [Int32Array.from([2, 3, 4])]).logprobs.dataSync())
    expect(Array.from(rows[0]!)).toEqual(Array.from(direct))
    policy.dispose()
  })
})

describe("schedules a recipe names", () => {
  it("cosine learning rate and a temperature ramp are what the run records", async () => {
    const recipe = recipeWith('rl.lrSchedule={"kind":"cosine","final":0.1}', 'rl.temperatureSchedule={"end":0.5,"steps":4}', "rl.warmupSteps=1")
    const lr = Plugins.learningRate(recipe.rl)
    expect(lr(0)).toBeCloseTo(0, 12)
    expect(lr(1)).toBeCloseTo(recipe.rl.lr, 12)
    expect(lr(6)).toBeCloseTo(0.1 * recipe.rl.lr, 12)
    const dir = tmp()
    await Effect.runPromise(Train.train(recipe, { runDir: dir }))
    const rl = records(dir)
    expect(rl.map((r) => r["actor/lr"])).toEqual([0, 1, 2, 3, 4, 5].map((s) => lr(s)))
    expect(rl.map((r) => r["rollout/temperature"])).toEqual([1, 0.875, 0.75, 0.625, 0.5, 0.5])
  }, 120_000)

  it("an adaptive KL coefficient moves with the measured KL and the run records it", async () => {
    const recipe = recipeWith('rl.kl={"coef":0.05,"estimator":"k3","adaptive":{"target":1e-9,"horizon":1000}}', "rl.lr=3e-3")
    const dir = tmp()
    await Effect.runPromise(Train.train(recipe, { runDir: dir }))
    const coefs = records(dir).map((r) => r["actor/kl_coef"] as number)
    expect(coefs[0]).toBe(0.05)
    // Each step moves beta by a factor within 1 +- errorClip x rollouts / horizon = 1 +- 0.2 x 32 / 1000.
    for (let i = 1; i < coefs.length; i++) {
      expect(Math.abs(coefs[i]! / coefs[i - 1]! - 1)).toBeLessThanOrEqual(0.2 * 32 / 1000 + 1e-12)
    }
    expect(new Set(coefs).size).toBeGreaterThan(1)
    expect(records(dir).every((r) => typeof r["actor/kl_loss"] === "number")).toBe(true)
  }, 120_000)

  it("a verifier reward and a user objective plug into Train.train; recipe.json records both", async () => {
    let calls = 0
    const inner = Objective.policyGradient({ loss: () => ppoClip(), kl: false, skipZeroAdvantage: true })
    const counting: Objective.Objective = { name: "counting-ppo", needsReference: false, step: (l, b, c) => (calls++, inner.step(l, b, c)) }
    const dir = tmp()
    await Effect.runPromise(Train.train(recipeWith('rl.reward={"kind":"verifier","name":"math"}', "rl.steps=3"), { runDir: dir, plugins: { objective: counting } }))
    expect(calls).toBe(3)
    const recorded = JSON.parse(readFileSync(join(dir, "recipe.json"), "utf8"))
    expect(recorded.rl.loss).toEqual({ kind: "custom", name: "counting-ppo" })
    expect(recorded.rl.reward).toEqual({ kind: "verifier", name: "math" })
    for (const r of records(dir)) expect(r["critic/score/mean"]).toBeGreaterThanOrEqual(0)
  }, 120_000)
})
