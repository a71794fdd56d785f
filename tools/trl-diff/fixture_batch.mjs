#!/usr/bin/env node
// Writes the inputs of the TRL reference fixture: a tiny duet GPT's initial parameters (Gpt.init with a
// fixed seed, so the test regenerates them bit for bit) and a fixed RL batch (prompts, completions,
// 0/1 rewards in groups of 2 and 4) as duet_batch.json + params-0.bin in DIR, for make_fixture.py.
// usage: node tools/trl-diff/fixture_batch.mjs DIR
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Rng } from "@duet/core"
import { Engine } from "@duet/engine"
import { Gpt } from "@duet/model"

const dir = process.argv[2]
if (!dir) {
  console.log("usage: node tools/trl-diff/fixture_batch.mjs DIR")
  process.exit(2)
}
await Engine.init({ threads: 1 })
const config = Gpt.makeConfig({ vocabSize: 14, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16 })
const seed = 7
const policy = Gpt.init(config, seed)
const rng = Rng.seeded(11)
const STOP = 13
const prompts = [], completions = [], rewards = [], groups = []
// 6 prompts x 2 (2-GRPO pairs) then 2 prompts x 4; every prompt 5 tokens (BOS = 0 first)
const groupSizes = [2, 2, 2, 2, 2, 2, 4, 4]
groupSizes.forEach((k, g) => {
  const prompt = [0, ...Array.from({ length: 4 }, () => 1 + rng.int(12))]
  for (let j = 0; j < k; j++) {
    const len = 1 + rng.int(7)
    const c = Array.from({ length: len }, () => 1 + rng.int(12))
    if (rng.float() < 0.7) c.push(STOP)
    prompts.push(prompt)
    completions.push(c)
    rewards.push(rng.float() < 0.5 ? 1 : 0)
    groups.push(g)
  }
})
mkdirSync(dir, { recursive: true })
const names = [...policy.params.keys()]
writeFileSync(join(dir, "params-0.bin"), Buffer.concat(names.map((n) => Buffer.from(policy.params.get(n).dataSync().buffer.slice(0)))))
writeFileSync(
  join(dir, "duet_batch.json"),
  JSON.stringify({ config, seed, params: names.map((n) => ({ name: n, shape: policy.params.get(n).shape })), prompts, completions, rewards, groups })
)
console.log(`wrote ${dir}: ${prompts.length} rows, ${Gpt.parameterCount(config)} parameters`)
