#!/usr/bin/env node
// Differential test, duet side: from a duet checkpoint, runs S RL steps of duet's own update
// (sampler -> grade -> advantages -> Update.rlStep) and records everything a peer needs to replay
// them: the initial parameters, each step's batch (prompts, completions, sampler log-probs, rewards,
// advantages, lr), duet's log-probs of that batch before the update, its loss, grad norm and
// per-tensor gradients (step 0), and the parameters after every step.
// The peer (trl_replay.py) computes the same steps with PyTorch + TRL's GRPO loss and compares.
//
// usage: node tools/trl-diff/duet_steps.mjs --ckpt DIR --out DIR [--steps 20] [--prompts 64] [--k 2]
//        [--lr 1e-3] [--agg seq-mean-token-mean|token-mean] [--eps 1e-4] [--seed 1] [--backend auto|cpu]
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { AdvantageTransform, Scores, StepInfo } from "@duet/core"
import { Engine, tf } from "@duet/engine"
import { Checkpoint, Gpt, Sampler } from "@duet/model"
import { Plugins, Recipe, Setup, Update } from "@duet/pipeline"
import { Effect } from "effect"

const { values: a } = parseArgs({
  options: {
    ckpt: { type: "string" },
    out: { type: "string" },
    steps: { type: "string", default: "20" },
    prompts: { type: "string", default: "64" },
    k: { type: "string", default: "2" },
    lr: { type: "string", default: "1e-3" },
    agg: { type: "string", default: "seq-mean-token-mean" },
    eps: { type: "string", default: "1e-4" },
    seed: { type: "string", default: "1" },
    backend: { type: "string", default: "auto" },
    help: { type: "boolean", default: false }
  }
})
if (a.help || !a.ckpt || !a.out) {
  console.log("usage: node tools/trl-diff/duet_steps.mjs --ckpt DIR --out DIR [--steps 20] [--prompts 64] [--k 2] [--lr 1e-3] [--agg seq-mean-token-mean] [--eps 1e-4] [--seed 1] [--backend auto]")
  process.exit(a.help ? 0 : 2)
}
const S = Number(a.steps), P = Number(a.prompts), K = Number(a.k), LR = Number(a.lr), seed = Number(a.seed)

const engine = await Engine.init({ backend: a.backend, threads: 1 })
const loaded = await Checkpoint.load(a.ckpt)
const stored = loaded.meta.recipe
const recipe = await Effect.runPromise(
  Recipe.decode(
    Recipe.merge(stored, {
      rl: {
        estimator: { kind: "grpo", eps: Number(a.eps), std: "unbiased" },
        loss: { kind: "ppo-clip", epsLow: 0.2, epsHigh: 0.2 },
        aggregation: a.agg,
        groupSize: { kind: "fixed", size: K },
        maxGradNorm: 1,
        weightDecay: 0
      }
    }),
    "diff recipe"
  )
)
const setup = await Effect.runPromise(Setup.make(recipe))
const policy = Gpt.fromParams(loaded.config, loaded.params)
Checkpoint.dispose(loaded)
const opt = Update.makeOptimizer(policy, { lr: LR, weightDecay: 0, maxGradNorm: 1 })
const objective = Plugins.objective(recipe.rl)
const transform = Plugins.estimator(recipe.rl.estimator)

mkdirSync(a.out, { recursive: true })
const names = [...policy.params.keys()]
const dumpParams = (file) => {
  const parts = names.map((n) => Buffer.from(policy.params.get(n).dataSync().buffer.slice(0)))
  writeFileSync(join(a.out, file), Buffer.concat(parts))
}
writeFileSync(
  join(a.out, "meta.json"),
  JSON.stringify({
    engine: engine.describe(),
    config: policy.config,
    params: names.map((n) => ({ name: n, shape: policy.params.get(n).shape })),
    steps: S, prompts: P, k: K, lr: LR, aggregation: a.agg, eps: Number(a.eps), seed
  })
)
dumpParams("params-0.bin")

const problems = setup.splits.train
for (let step = 0; step < S; step++) {
  const batchProblems = Array.from({ length: P }, (_, i) => problems[(step * P + i) % problems.length])
  const promptIds = batchProblems.map((p) => setup.codec.prompt(p.prompt))
  const rowsPrompt = promptIds.flatMap((p) => Array.from({ length: K }, () => p))
  const group = batchProblems.flatMap((_, i) => Array.from({ length: K }, () => i))
  const completions = Sampler.sample(policy, rowsPrompt, {
    maxTokens: recipe.rl.sampling.maxTokens,
    temperature: 1,
    stopTokens: [setup.codec.stopToken],
    seed: seed * 1_000_003 + step
  })
  const rewards = completions.map((c, r) => (Setup.grade(setup.task, setup.codec.decode(c.tokens), batchProblems[group[r]]) ? 1 : 0))
  const scores = Scores.make(rewards, group)
  const lengths = completions.map((c) => c.tokens.length)
  const advantages = AdvantageTransform.apply(transform, scores, StepInfo.at(step, lengths)).values
  const tokens = completions.map((c) => c.tokens)
  // duet's log-probs of the batch under the current parameters (training forward, no cache)
  const lp = tf.tidy(() => {
    const { logprobs } = policy.sequenceLogprobs(rowsPrompt, tokens)
    return logprobs.arraySync()
  })
  const record = {
    step,
    prompts: rowsPrompt.map((p) => Array.from(p)),
    completions: tokens.map((t) => Array.from(t)),
    samplerLogprobs: completions.map((c) => Array.from(c.logprobs)),
    trainLogprobs: lp.map((row, r) => row.slice(0, tokens[r].length)),
    rewards,
    advantages: Array.from(advantages),
    lr: LR
  }
  if (step === 0) {
    // per-tensor gradients of the loss at the initial parameters (what rlStep computes before clipping)
    const tc = Math.max(1, ...tokens.map((t) => t.length))
    const pad = (rows) => {
      const out = new Float32Array(rows.length * tc)
      rows.forEach((r, i) => out.set(r, i * tc))
      return out
    }
    const old = tf.tensor2d(pad(completions.map((c) => c.logprobs)), [tokens.length, tc])
    const adv = tf.tensor1d(Float32Array.from(advantages))
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(rowsPrompt, tokens)
      const out = objective.loss({ logp: logprobs, oldLogp: old, advantages: adv, mask })
      for (const m of Object.values(out.metrics)) m.dispose()
      return out.loss
    })
    record.lossNoSkip = value.dataSync()[0]
    writeFileSync(join(a.out, "grads-0.bin"), Buffer.concat(names.map((n) => Buffer.from(grads.get(n).dataSync().buffer.slice(0)))))
    value.dispose()
    for (const g of grads.values()) g.dispose()
    old.dispose()
    adv.dispose()
  }
  const r = Update.rlStep(
    policy,
    opt,
    LR,
    objective.loss,
    { prompts: rowsPrompt, completions: tokens, oldLogprobs: completions.map((c) => c.logprobs), advantages },
    recipe.rl.skipZeroAdvantage
  )
  record.loss = r.loss
  record.gradNorm = r.gradNorm
  record.metrics = r.metrics
  writeFileSync(join(a.out, `batch-${step}.json`), JSON.stringify(record))
  dumpParams(`params-${step + 1}.bin`)
  const mean = rewards.reduce((x, y) => x + y, 0) / rewards.length
  console.log(`step ${step}: reward ${mean.toFixed(3)} loss ${r.loss.toFixed(6)} gradNorm ${r.gradNorm.toFixed(6)} approxKl ${r.metrics.approxKl?.toExponential(2)}`)
}
