// duet beside PyTorch eager on one Hugging Face config, in alternating rounds: each round runs every
// variant as its own process (`duet bench --model-config ... --json` / tools/bench-hf/peer.py
// --json), the order reversed every other round, so a change in machine load hits all of them; it
// prints each round's duet/torch tokens/s ratios and their medians. On a shared machine compare
// only ratios from one run. Needs `npx nx run-many -t build` first; run from the repo root.
//   node tools/bench-hf/compare.mjs [--model-config smollm2-135m | --model DIR] [--rounds 3]
//     [--variants duet-native,duet-openblas,duet-js,torch2,torch1] [--batch 4] [--seq 128]
//     [--decode-batch 8] [--new 32] [--steps 1] [--inner-rounds 1] [--out results.json] [--json]
// Variants (each with 1 GEMM thread, as `duet train`): duet (the default path), duet-native
// (DUET_BLAS=native: duet's own C++ GEMM), duet-openblas (DUET_BLAS=openblas), duet-js (DUET_BLAS=0:
// duet's wasm SIMD kernels, no native code); torchN: peer.py with N threads.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { arg } from "./args.mjs"

const json = process.argv.includes("--json")
const source = arg("model", undefined) !== undefined ? ["--model", arg("model")] : ["--model-config", arg("model-config", "smollm2-135m")]
const rounds = Number(arg("rounds", 3))
const variants = arg("variants", "duet-native,duet-openblas,duet-js,torch2,torch1").split(",")
const blasEnv = { duet: {}, "duet-native": { DUET_BLAS: "native" }, "duet-openblas": { DUET_BLAS: "openblas" }, "duet-js": { DUET_BLAS: "0" } }
const sizes = ["batch", "seq", "decode-batch", "new", "steps"].flatMap((k) => (arg(k, undefined) === undefined ? [] : [`--${k}`, arg(k)]))
const inner = ["--rounds", arg("inner-rounds", "1")]
const python = process.env.DUET_PYTHON ?? (existsSync("/work/pyenv/bin/python") ? "/work/pyenv/bin/python" : "python3")
const log = (line) => (json ? process.stderr : process.stdout).write(line + "\n")

const runVariant = (v) => {
  const [cmd, args, env] = v.startsWith("torch")
    ? [python, ["tools/bench-hf/peer.py", ...source, ...sizes, ...inner, "--threads", v.slice(5) || "2", "--json"], {}]
    : [process.execPath, ["apps/cli/bin/duet.js", "bench", ...source, ...sizes, ...inner, "--json"], blasEnv[v] ?? {}]
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`${v}: exit ${r.status}: ${r.stderr.slice(-2000)}`)
  return JSON.parse(r.stdout.trim().split("\n").at(-1))
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const results = Object.fromEntries(variants.map((v) => [v, []]))
const started = new Date().toISOString()
const load = [(await import("node:os")).loadavg()[0]]
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
    const t0 = performance.now()
    const res = runVariant(v)
    results[v].push(res)
    load.push((await import("node:os")).loadavg()[0])
    log(
      `round ${r + 1} ${v.padEnd(7)} train ${(res.trainTokensPerSec ?? NaN).toFixed(1).padStart(7)} tok/s  decode ${(res.decodeTokensPerSec ?? NaN).toFixed(1).padStart(7)} tok/s  ` +
        `peak RSS ${(res.peakRssBytes / 2 ** 30).toFixed(2)} GiB  ${res.matmul}  (${((performance.now() - t0) / 1000).toFixed(0)} s wall)${res.failures?.length ? `  FAILED ${JSON.stringify(res.failures)}` : ""}`
    )
  }
}
const duets = variants.filter((v) => v.startsWith("duet"))
const torches = variants.filter((v) => v.startsWith("torch"))
const ratios = {}
for (const d of duets) {
  for (const t of torches) {
    for (const phase of ["train", "decode"]) {
      const k = `${phase}TokensPerSec`
      const per = results[d].map((x, i) => x[k] / results[t][i]?.[k])
      ratios[`${d}/${t} ${phase}`] = { perRound: per, median: median(per) }
    }
  }
}
const summary = {
  started,
  finished: new Date().toISOString(),
  loadAverage1m: { min: Math.min(...load), max: Math.max(...load) },
  source,
  sizes,
  parameters: results[variants[0]][0].parameters,
  variants: Object.fromEntries(
    variants.map((v) => [
      v,
      {
        engine: [...new Set(results[v].map((x) => x.engine.split(" | duet kernels")[0]))].join(" / "),
        trainTokensPerSec: median(results[v].map((x) => x.trainTokensPerSec)),
        trainStepMs: median(results[v].map((x) => x.trainStepMs)),
        decodeTokensPerSec: median(results[v].map((x) => x.decodeTokensPerSec)),
        peakRssBytes: Math.max(...results[v].map((x) => x.peakRssBytes)),
        initMs: median(results[v].map((x) => x.initMs))
      }
    ])
  ),
  ratios
}
if (arg("out", undefined) !== undefined) (await import("node:fs")).writeFileSync(arg("out"), JSON.stringify({ summary, results }))
if (json) console.log(JSON.stringify(summary))
else {
  log(`\n${source.join(" ")} ${sizes.join(" ")}: ${summary.parameters.toLocaleString("en-US")} parameters; ${rounds} rounds, ${started} .. ${summary.finished}, load ${summary.loadAverage1m.min.toFixed(1)}-${summary.loadAverage1m.max.toFixed(1)}`)
  for (const [v, s] of Object.entries(summary.variants)) {
    log(`${v.padEnd(8)} train ${s.trainTokensPerSec.toFixed(1).padStart(7)} tok/s (${(s.trainStepMs / 1000).toFixed(2)} s/step)  decode ${s.decodeTokensPerSec.toFixed(1).padStart(7)} tok/s  peak RSS ${(s.peakRssBytes / 2 ** 30).toFixed(2)} GiB  init ${(s.initMs / 1000).toFixed(1)} s  [${s.engine}]`)
  }
  for (const [k, r] of Object.entries(ratios)) log(`${k.padEnd(28)} median ${r.median.toFixed(2)}  rounds ${r.perRound.map((x) => x.toFixed(2)).join(" ")}`)
}
