#!/usr/bin/env node
// duet vs PyTorch eager on the same GPT and workload: training step and batched decode (issue 14:
// duet train step >= 1.5x torch eager, decode >= 2x torch, same dims, same run).
//
// Each round runs, per thread count N, as separate processes, `bench-model.mjs --only duet --json
// --rounds 1 --threads N --decode-threads N` and `peer.py --json --rounds 1 --threads N`, the order
// alternating between rounds (A B, B A, ...), so a change in machine load hits both sides. Prints per-round figures, the
// per-round ratios and their medians:
//   train ratio  = torch train ms / duet train ms        (> 1: duet faster)
//   decode ratio = duet decode tok/s / torch decode tok/s (> 1: duet faster)
// The torch decode peer is HF `generate` (see peer.py); the hand-written KV-cache loop is shown too.
//
// Build first:  npx nx run-many -t build -p @duet/core @duet/engine @duet/model
// Run:          node tools/bench-model/vs-torch.mjs [--rounds 3] [--blas auto|native|openblas|js]
//               [--threads 2|1|1,2] [--python PATH] [dims] [--json]
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..", "..")

// What duet runs from: the built packages and native addons, by mtime. A rebuild between rounds
// (someone else's build on a shared checkout) is reported, since rounds would then mix builds.
const buildStamp = () => {
  const files = ["core", "engine", "model"].map((p) => join(root, "packages", p, "dist", "index.js"))
  const addons = join(root, "packages", "engine", "build")
  if (existsSync(addons)) files.push(...readdirSync(addons).filter((f) => f.endsWith(".node")).map((f) => join(addons, f)))
  return files
    .filter((f) => existsSync(f))
    .map((f) => `${f.slice(root.length + 1)}@${statSync(f).mtime.toISOString()}`)
    .join(" ")
}
const DIMS = ["--dim", "--layers", "--heads", "--vocab", "--batch", "--seq", "--decode-batch", "--prompt-length"]
const HELP = `usage: node tools/bench-model/vs-torch.mjs [options]

Alternating rounds (A B, B A, ...) of duet (bench-model.mjs --only duet --json --rounds 1) and
PyTorch eager (peer.py --json --rounds 1), each a separate process with the same number of
threads; per-round ratios and medians.

  --rounds N            rounds (3)
  --blas auto|native|openblas|js
                        duet's matmul path, passed to bench-model.mjs (auto: OpenBLAS when built)
  --threads LIST        threads for both sides, comma-separated: each count is its own pair of
                        runs per round (2; e.g. 1,2): duet's GEMM and decode-attention threads
                        (train and decode), torch's intra-op threads
  --python PATH         Python with torch and transformers ($DUET_PYTHON or /work/pyenv/bin/python)
  --dim N --layers N --heads N --vocab N --batch N --seq N --decode-batch N --prompt-length N
                        model and workload (default: the reference model, V=32 C=128 L=4 H=4
                        T=64, train 32 x 64, decode 256 rows from 8-token prompts), passed to both
  --timeout S           per-process limit in seconds (900)
  --json                one JSON object instead of the table
  --help                this text

Ratios: train = torch ms / duet ms; decode = duet tok/s / torch tok/s (> 1: duet faster).
Targets (issue 14): train >= 1.5x, decode >= 2x. Build first:
  npx nx run-many -t build -p @duet/core @duet/engine @duet/model`

const fail = (msg) => {
  console.error(`vs-torch: ${msg}`)
  process.exit(2)
}

const parse = (argv) => {
  const o = { rounds: 3, blas: "auto", threads: [2], python: process.env.DUET_PYTHON ?? "/work/pyenv/bin/python", dims: [], timeout: 900, json: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`)
      return argv[++i]
    }
    const int = (s) => {
      const n = Number(s)
      if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer, got ${s}`)
      return n
    }
    if (flag === "--help" || flag === "-h") {
      console.log(HELP)
      process.exit(0)
    } else if (flag === "--json") o.json = true
    else if (flag === "--rounds") o.rounds = int(value())
    else if (flag === "--timeout") o.timeout = int(value())
    else if (flag === "--python") o.python = value()
    else if (flag === "--blas") {
      o.blas = value()
      if (!["auto", "native", "openblas", "js"].includes(o.blas)) fail(`--blas must be auto, native, openblas or js, got ${o.blas}`)
    } else if (flag === "--threads") o.threads = value().split(",").map(int)
    else if (DIMS.includes(flag)) o.dims.push(flag, String(int(value())))
    else fail(`unknown flag ${flag} (see --help)`)
  }
  return o
}

const lastJson = (stdout) => {
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"))
  if (line === undefined) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

const runJson = (label, cmd, args, timeout) => {
  const load = loadavg()[0]
  const t0 = performance.now()
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeout * 1000, maxBuffer: 64 << 20 })
  const wallS = (performance.now() - t0) / 1000
  const json = r.status === 0 ? lastJson(r.stdout) : undefined
  if (json === undefined) {
    fail(`${label} failed (${r.error?.message ?? `exit ${r.status}${r.signal ? `, ${r.signal}` : ""}`}): ${cmd} ${args.join(" ")}\n${(r.stderr || r.stdout || "").slice(-2000)}`)
  }
  return { json, load, wallS }
}

const duet = (o, threads) => {
  const stamp = buildStamp()
  const n = String(threads)
  const args = [join(here, "bench-model.mjs"), "--only", "duet", "--json", "--rounds", "1", "--blas", o.blas, "--threads", n, "--decode-threads", n, ...o.dims]
  const { json, load, wallS } = runJson(`duet (${threads} threads)`, process.execPath, args, o.timeout)
  const r = json.results.find((x) => x.variant === "duet")
  return { trainMs: r.trainStepMs, trainTokS: r.trainTokensPerSec, decodeTokS: r.decodeTokensPerSec, engine: r.engine, parameters: json.parameters, load, wallS, build: stamp === buildStamp() ? stamp : `changed during the run: ${stamp}` }
}

const torch = (o, threads) => {
  const { json, load, wallS } = runJson(`torch (${threads} threads)`, o.python, [join(here, "peer.py"), "--json", "--rounds", "1", "--threads", String(threads), ...o.dims], o.timeout)
  return { trainMs: json.train_ms, trainTokS: json.train_tok_s, decodeTokS: json.decode_tok_s, decodeLoopTokS: json.decode_loop_tok_s, phases: json.train_phases_ms, version: json.torch, parameters: json.parameters, load, wallS }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const o = parse(process.argv.slice(2))
const rounds = []
for (let r = 0; r < o.rounds; r++) {
  const round = { round: r + 1, order: r % 2 === 0 ? "duet first" : "torch first", duet: {}, torch: {} }
  for (const n of o.threads) {
    if (r % 2 === 0) {
      round.duet[n] = duet(o, n)
      round.torch[n] = torch(o, n)
    } else {
      round.torch[n] = torch(o, n)
      round.duet[n] = duet(o, n)
    }
    if (!o.json) {
      const [d, t] = [round.duet[n], round.torch[n]]
      console.error(`round ${r + 1} (${round.order}, ${n} thread${n === 1 ? "" : "s"}, load ${d.load.toFixed(2)}): duet ${d.trainMs.toFixed(0)} ms / ${d.decodeTokS.toFixed(0)} tok/s, torch ${t.trainMs.toFixed(0)} ms / ${t.decodeTokS.toFixed(0)} tok/s`)
    }
  }
  rounds.push(round)
}

const first = rounds[0]
const summary = {}
for (const n of o.threads) {
  const train = rounds.map((r) => r.torch[n].trainMs / r.duet[n].trainMs)
  const decode = rounds.map((r) => r.duet[n].decodeTokS / r.torch[n].decodeTokS)
  const decodeLoop = rounds.map((r) => r.duet[n].decodeTokS / r.torch[n].decodeLoopTokS)
  summary[n] = {
    duetTrainMs: median(rounds.map((r) => r.duet[n].trainMs)),
    torchTrainMs: median(rounds.map((r) => r.torch[n].trainMs)),
    duetDecodeTokS: median(rounds.map((r) => r.duet[n].decodeTokS)),
    torchDecodeTokS: median(rounds.map((r) => r.torch[n].decodeTokS)),
    torchDecodeLoopTokS: median(rounds.map((r) => r.torch[n].decodeLoopTokS)),
    trainRatio: median(train),
    decodeRatio: median(decode),
    decodeLoopRatio: median(decodeLoop),
    trainRatios: train,
    decodeRatios: decode,
    decodeLoopRatios: decodeLoop
  }
}

if (o.json) {
  console.log(JSON.stringify({ options: { ...o, python: undefined }, parameters: first.duet[o.threads[0]].parameters, duetEngine: first.duet[o.threads[0]].engine, torch: first.torch[o.threads[0]].version, rounds, summary }))
} else {
  const f0 = (x) => x.toLocaleString("en-US", { maximumFractionDigits: 0 })
  const f1 = (x) => x.toFixed(1)
  const f2 = (x) => `${x.toFixed(2)}x`
  const d0 = first.duet[o.threads[0]]
  console.log(`duet (${o.blas}): ${d0.engine.train.split(" | ").slice(0, 2).join(" | ")}; decode: ${d0.engine.decode.split(" | ")[1]}`)
  const buildsOf = (r) => o.threads.map((n) => r.duet[n].build)
  const builds = [...new Set(rounds.flatMap(buildsOf))]
  if (builds.length > 1 || builds[0].startsWith("changed")) console.log(`WARNING: duet's build changed between or during rounds:\n  ${rounds.map((r) => `round ${r.round}: ${buildsOf(r).join("; ")}`).join("\n  ")}`)
  console.log(`torch ${first.torch[o.threads[0]].version} eager, ${d0.parameters.toLocaleString("en-US")} params (duet) / ${first.torch[o.threads[0]].parameters.toLocaleString("en-US")} (torch)`)
  for (const n of o.threads) {
    const s = summary[n]
    console.log(`\nduet and torch on ${n} thread${n === 1 ? "" : "s"} each (decode peer: HF generate; loop = hand-written KV-cache loop)\n`)
    console.log("| round | order | load (duet / torch) | duet train ms | torch train ms | train ratio | duet decode tok/s | torch decode tok/s | decode ratio | torch loop tok/s | ratio vs loop |")
    console.log("|---|---|---|---|---|---|---|---|---|---|---|")
    for (const r of rounds) {
      const [d, t] = [r.duet[n], r.torch[n]]
      console.log(
        `| ${r.round} | ${r.order} | ${d.load.toFixed(2)} / ${t.load.toFixed(2)} | ${f1(d.trainMs)} | ${f1(t.trainMs)} | ${f2(t.trainMs / d.trainMs)} | ` +
          `${f0(d.decodeTokS)} | ${f0(t.decodeTokS)} | ${f2(d.decodeTokS / t.decodeTokS)} | ${f0(t.decodeLoopTokS)} | ${f2(d.decodeTokS / t.decodeLoopTokS)} |`
      )
    }
    console.log(
      `| median | | | ${f1(s.duetTrainMs)} | ${f1(s.torchTrainMs)} | **${f2(s.trainRatio)}** | ${f0(s.duetDecodeTokS)} | ${f0(s.torchDecodeTokS)} | **${f2(s.decodeRatio)}** | ${f0(s.torchDecodeLoopTokS)} | ${f2(s.decodeLoopRatio)} |`
    )
    const ph = rounds.map((r) => r.torch[n].phases)
    const mp = (k) => f1(median(ph.map((p) => p[k])))
    console.log(`\ntorch train phases (median ms): forward ${mp("forward")}, backward ${mp("backward")}, clip+AdamW ${mp("optimizer")}`)
    console.log(`targets: train >= 1.5x: ${s.trainRatio >= 1.5 ? "met" : "not met"} (${f2(s.trainRatio)}); decode >= 2x: ${s.decodeRatio >= 2 ? "met" : "not met"} (${f2(s.decodeRatio)})`)
  }
}
