#!/usr/bin/env node
// Should a library replace duet's hand-written math comparison (issue 12)? Grades the corpus
// packages/verifiers/fixtures/math-verify-cases.jsonl (verdicts from Math-Verify's rules) three
// ways and prints agreement per class, false positives, time per row and bundle size:
//   duet          MathAnswer.check: hand-written LaTeX parser + exact rationals + complex floats +
//                 sampled identity (no library)
//   compute-engine @cortex-js/compute-engine: ce.parse(latex) on both answers, expr.isEqual(other)
//   mathjs        mathjs.parse on the answers turned into mathjs syntax, numeric equality within
//                 5e-7 or mathjs.symbolicEqual
// The two libraries get the answers duet extracts (last box, "final answer", ...) and count
// identical answer text as equal, so the comparison is of the equivalence step only.
// usage: node tools/verifier-libraries/verifier-libraries.mjs --compute-engine DIR [--json]
//   (after `npm run build`; DIR is an installed @cortex-js/compute-engine, e.g. from
//    `npm install --prefix /tmp/ce @cortex-js/compute-engine@0.140.0`, kept out of the workspace)
import { build } from "esbuild"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { MathAnswer } from "@duet/verifiers"

const args = process.argv.slice(2)
const ceDir = args.includes("--compute-engine") ? args[args.indexOf("--compute-engine") + 1] : null
if (ceDir === null) {
  console.error("usage: verifier-libraries.mjs --compute-engine DIR [--json]")
  process.exit(2)
}
const json = args.includes("--json")
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const corpus = readFileSync(join(root, "packages/verifiers/fixtures/math-verify-cases.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))

const ceEntry = JSON.parse(readFileSync(join(ceDir, "package.json"), "utf8")).module
const { ComputeEngine } = await import(pathToFileURL(join(ceDir, ceEntry)).href)
const ce = new ComputeEngine()
const require = createRequire(join(root, "packages/verifiers/package.json"))
const math = require("mathjs")

/** The answer duet reads from each side (what the libraries are given). */
const answers = (pred, gold) => [MathAnswer.extract(pred) ?? pred.trim(), MathAnswer.extract(gold) ?? gold.trim()]

/** LaTeX answer -> mathjs syntax: the handful of rewrites a mathjs-based grader would need. */
const toMathjs = (latex) => {
  let s = latex.replace(/\\[dt]frac/g, "\\frac").replace(/\\left|\\right|\\!|\\,|\\;|\$/g, "")
  for (let k = 0; k < 8; k++) {
    s = s.replace(/\\frac\{([^{}]*)\}\{([^{}]*)\}/g, "(($1)/($2))")
      .replace(/\\sqrt\[([^\]]*)\]\{([^{}]*)\}/g, "nthRoot($2, $1)")
      .replace(/\\sqrt\{([^{}]*)\}/g, "sqrt($1)")
      .replace(/\^\{([^{}]*)\}/g, "^($1)")
      .replace(/\\text\{([^{}]*)\}/g, "$1")
  }
  return s.replace(/\\cdot|\\times/g, "*").replace(/\\pi/g, "pi").replace(/\\infty/g, "Infinity")
    .replace(/\\(sin|cos|tan|ln|log)/g, "$1").replace(/\\%/g, "/100").replace(/,(?=\d{3}\b)/g, "").replace(/[{}]/g, "")
}

const backends = {
  duet: (pred, gold) => MathAnswer.check(pred, gold).correct,
  "compute-engine": (pred, gold) => {
    const [a, b] = answers(pred, gold)
    if (a === b) return true
    try {
      return ce.parse(a).isEqual(ce.parse(b)) === true
    } catch {
      return false
    }
  },
  mathjs: (pred, gold) => {
    const [a, b] = answers(pred, gold)
    if (a === b) return true
    try {
      const x = math.parse(toMathjs(a))
      const y = math.parse(toMathjs(b))
      const vars = new Set([...x.filter((n) => n.isSymbolNode), ...y.filter((n) => n.isSymbolNode)]
        .map((n) => n.name).filter((n) => !(n in math)))
      if (vars.size === 0) {
        const d = math.abs(math.subtract(x.evaluate(), y.evaluate()))
        return typeof d === "number" && d <= 5e-7
      }
      return math.symbolicEqual(x, y)
    } catch {
      return false
    }
  }
}

const bundleBytes = async (contents, loader = "js") => {
  const out = await build({
    stdin: { contents, resolveDir: root, loader },
    bundle: true, minify: true, write: false, format: "esm", platform: "node", logLevel: "silent",
    nodePaths: [join(ceDir, "..", "..")]
  })
  return out.outputFiles[0].contents.length
}

const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]
const classes = [...new Set(corpus.map((c) => c.cls))]
const report = {}
for (const [name, grade] of Object.entries(backends)) {
  grade(corpus[0].pred, corpus[0].gold) // load what loads lazily before timing
  const times = []
  const perClass = Object.fromEntries(classes.map((c) => [c, { agree: 0, rows: 0, falsePositives: 0 }]))
  for (const row of corpus) {
    const start = performance.now()
    const verdict = grade(row.pred, row.gold)
    times.push(performance.now() - start)
    const c = perClass[row.cls]
    c.rows++
    if (verdict === row.expected) c.agree++
    else if (verdict) c.falsePositives++
  }
  const agree = Object.values(perClass).reduce((a, c) => a + c.agree, 0)
  report[name] = {
    agreement: agree / corpus.length, agree, rows: corpus.length,
    falsePositives: Object.values(perClass).reduce((a, c) => a + c.falsePositives, 0),
    meanMs: times.reduce((a, t) => a + t, 0) / times.length, p99Ms: percentile(times, 0.99), maxMs: Math.max(...times),
    perClass
  }
}
// duet's bundle is its checker (MathAnswer and its internal modules, without the Effect service
// layer); each library alone is what adopting it would add.
report.duet.bundleBytes = await bundleBytes(`export * from "./packages/verifiers/src/MathAnswer.ts"`, "ts")
const mathjsBytes = await bundleBytes(`export * from "mathjs"`)
report.mathjs.bundleBytes = mathjsBytes
report["compute-engine"].bundleBytes = await bundleBytes(`export * from "@cortex-js/compute-engine"`)

if (json) console.log(JSON.stringify(report, null, 2))
else {
  const kb = (b) => `${(b / 1024).toFixed(0)} KiB`
  console.log(`${corpus.length} cases\n`)
  console.log("backend         agreement          false pos.  mean ms  p99 ms  max ms  bundle (min)")
  for (const [name, r] of Object.entries(report)) {
    console.log(`${name.padEnd(15)} ${`${r.agree}/${r.rows} (${(100 * r.agreement).toFixed(1)}%)`.padEnd(18)} ${String(r.falsePositives).padEnd(11)} ${r.meanMs.toFixed(3).padStart(7)} ${r.p99Ms.toFixed(2).padStart(7)} ${r.maxMs.toFixed(2).padStart(7)}  ${kb(r.bundleBytes)}`)
  }
  console.log("\nper class (agree/rows, false positives):")
  for (const cls of classes) {
    console.log(`  ${cls.padEnd(34)} ${Object.entries(report).map(([n, r]) => `${n} ${r.perClass[cls].agree}/${r.perClass[cls].rows} fp ${r.perClass[cls].falsePositives}`).join("   ")}`)
  }
}
