#!/usr/bin/env node
// MathAnswer.check on fuzzed rows (issue 12: 10k rows, 0 crashes, p99 < 10 ms, max < 50 ms).
// Rows are generated from a fixed seed: corpus rows with random edits, LaTeX token soup, numbers
// in every format, and hostile shapes (1 MB strings, deep nesting, huge powers and factorials,
// ReDoS-style repetitions). Each row is timed alone, after a one-row warm-up; a row that throws
// is a crash. Prints counts, percentiles and the slowest rows with their kind.
// usage: node tools/verifier-fuzz/verifier-fuzz.mjs [--rows N] [--seed S] [--json]   (after `npm run build`)
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { MathAnswer } from "@duet/verifiers"

const args = process.argv.slice(2)
const opt = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d)
const rowsWanted = opt("--rows", 10_000)
let seed = opt("--seed", 12) >>> 0
const rand = () => { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (n) => Math.floor(rand() * n)
const pick = (xs) => xs[int(xs.length)]

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const corpus = readFileSync(join(root, "packages/verifiers/fixtures/math-verify-cases.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))

const TOKENS = ["\\frac", "{", "}", "(", ")", "[", "]", "\\sqrt", "^", "_", "1", "2", "7", "x", "y", ",", "\\pi", "!", "-",
  "+", "\\boxed{", "\\left(", "\\right)", "\\{", "\\}", "=", "\\le", "%", "\\cup", "\\infty", "&", "\\\\",
  "\\begin{pmatrix}", "\\end{pmatrix}", ".", " ", "\\text{", "e", "i", "|", "\\pm", "0", ":", "$", "\\!", "\\,",
  "</think>", "<think>", "The answer is ", "Final Answer: ", "#### ", "\\dfrac", "\\cdot", "\\times", "10^{", "\\ln", "\\sin"]
const soup = (n) => Array.from({ length: n }, () => pick(TOKENS)).join("")

const mutate = (s) => {
  let out = s
  for (let k = 1 + int(4); k > 0; k--) {
    const at = int(out.length + 1)
    const op = int(3)
    if (op === 0) out = out.slice(0, at) + pick(TOKENS) + out.slice(at)
    else if (op === 1) out = out.slice(0, at) + out.slice(at + 1 + int(4))
    else out = out.slice(0, at) + out.slice(at, at + 8).repeat(1 + int(6)) + out.slice(at)
  }
  return out
}

const number = () => {
  const n = int(10_000_000) * (rand() < 0.2 ? -1 : 1)
  return pick([
    () => String(n), () => n.toLocaleString("en-US"), () => n.toLocaleString("en-US").replace(/,/g, "\\,"),
    () => (n / 1000).toFixed(3), () => `\\frac{${n}}{${1 + int(97)}}`, () => `${n}/${1 + int(97)}`,
    () => `${(n / 1e6).toFixed(2)} \\times 10^{${int(9)}}`, () => `${int(100)}\\%`, () => `\\$${n}`, () => `${n},${int(99)}`
  ])()
}

const HOSTILE = {
  "1 MB of unclosed boxes": () => "\\boxed{".repeat(150_000),
  "1 MB of 1,": () => "1,".repeat(500_000),
  "1 MB nested braces": () => `\\boxed{${"{".repeat(450_000)}1${"}".repeat(450_000)}}`,
  "1 MB of answer phrases": () => "the answer is ".repeat(75_000),
  "1 MB of digits": () => "9".repeat(1_000_000),
  "1 MB of think tags": () => "<think></think>".repeat(66_000),
  "huge power tower": () => `\\boxed{${"2^{".repeat(40)}2${"}".repeat(40)}}`,
  "huge factorial": () => `\\boxed{${10 ** (3 + int(6))}!}`,
  "huge binomial": () => `\\boxed{\\binom{${10 ** (6 + int(6))}}{${10 ** (5 + int(5))}}}`,
  "10^10^10": () => "\\boxed{10^{10^{10}}}",
  "deep parentheses": () => `\\boxed{${"(".repeat(2000)}x${")".repeat(2000)}}`,
  "deep fractions": () => `\\boxed{${"\\frac{1}{".repeat(300)}2${"}".repeat(300)}}`,
  "many sqrt": () => `\\boxed{${"\\sqrt{".repeat(500)}2${"}".repeat(500)}}`,
  "ReDoS: spaced digits": () => `${"1 ".repeat(50_000)}!`,
  "ReDoS: unit words": () => `5 ${"cm ".repeat(30_000)}x`,
  "ReDoS: decimals": () => `0.${"0".repeat(100_000)}1.`,
  "ReDoS: final answer": () => `${"final answer ".repeat(30_000)}is`,
  "long set": () => `\\boxed{\\{${Array.from({ length: 3000 }, (_, k) => k).join(",")}\\}}`,
  "long polynomial": () => `\\boxed{${Array.from({ length: 250 }, (_, k) => `${k}x^{${k}}`).join("+")}}`,
  "many variables": () => `\\boxed{${Array.from({ length: 26 }, (_, k) => String.fromCharCode(97 + k)).join("+")}}`
}
const hostileNames = Object.keys(HOSTILE)

const row = (k) => {
  const r = rand()
  if (r < 0.4) {
    const c = pick(corpus)
    return { kind: "mutated corpus", pred: mutate(c.pred), gold: rand() < 0.5 ? c.gold : mutate(c.gold) }
  }
  if (r < 0.7) return { kind: "token soup", pred: soup(1 + int(200)), gold: soup(1 + int(20)) }
  if (r < 0.9) return { kind: "numbers", pred: `The answer is $${number()}$.`, gold: number() }
  const name = hostileNames[k % hostileNames.length]
  return { kind: name, pred: HOSTILE[name](), gold: rand() < 0.5 ? "1" : soup(1 + int(20)) }
}

MathAnswer.check("\\boxed{\\sqrt{2}}", "1.414214") // warm-up
const times = []
const byKind = new Map()
let crashes = 0
let timeouts = 0
const slowest = []
for (let k = 0; k < rowsWanted; k++) {
  const { kind, pred, gold } = row(k)
  const start = performance.now()
  try {
    const r = MathAnswer.check(pred, gold)
    if (r.rule === "timeout") timeouts++
    if (typeof r.correct !== "boolean") crashes++
  } catch {
    crashes++
  }
  const ms = performance.now() - start
  times.push(ms)
  byKind.set(kind, Math.max(byKind.get(kind) ?? 0, ms))
  slowest.push({ ms, kind, chars: pred.length, pred, gold })
  if (slowest.length > 20) slowest.sort((a, b) => b.ms - a.ms).pop()
}
const sorted = [...times].sort((a, b) => a - b)
const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
// Re-time the slowest rows: a row that is slow again is the checker; one that is fast was the machine.
const top = slowest.sort((a, b) => b.ms - a.ms).slice(0, 5).map((r) => {
  const again = []
  for (let k = 0; k < 5; k++) {
    const start = performance.now()
    MathAnswer.check(r.pred, r.gold)
    again.push(performance.now() - start)
  }
  return { ms: r.ms, bestOf5AgainMs: Math.min(...again), kind: r.kind, chars: r.chars, pred: r.pred.slice(0, 300), gold: r.gold.slice(0, 100) }
})
const report = {
  rows: rowsWanted, crashes, timeouts, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1],
  heapMb: process.memoryUsage().heapUsed / 2 ** 20,
  slowest: top,
  maxMsByKind: Object.fromEntries([...byKind].sort((a, b) => b[1] - a[1]))
}
if (args.includes("--json")) console.log(JSON.stringify(report, null, 2))
else {
  console.log(`${report.rows} rows: ${crashes} crashes, ${timeouts} timeouts; p50 ${report.p50Ms.toFixed(3)} ms, p99 ${report.p99Ms.toFixed(2)} ms, max ${report.maxMs.toFixed(2)} ms; heap ${report.heapMb.toFixed(0)} MB`)
  console.log("slowest rows, timed once in the run and best of 5 again:")
  for (const r of top) console.log(`  ${r.ms.toFixed(2).padStart(8)} ms  ${r.bestOf5AgainMs.toFixed(2).padStart(7)} ms  ${r.kind}`)
  console.log("slowest kinds (max ms):")
  for (const [kind, ms] of Object.entries(report.maxMsByKind).slice(0, 8)) console.log(`  ${ms.toFixed(2).padStart(8)}  ${kind}`)
}
