#!/usr/bin/env node
// duet engine benchmark: stock tfjs-wasm vs duet's kernels, side by side in one run.
//   node packages/engine/scripts/bench.mjs [--json] [--groups gemm,kernels,train,decode]
//                                          [--paths native,openblas,js] [--reps N] [--threads N]
// Needs the built package (npx tsup in packages/engine).
import { Bench } from "../dist/index.js"

const args = process.argv.slice(2)
const value = (flag) => {
  const i = args.indexOf(flag)
  return i >= 0 ? args[i + 1] : undefined
}
const list = (flag) => value(flag)?.split(",").map((s) => s.trim()).filter(Boolean)
const groups = list("--groups")
const paths = list("--paths")
const reps = value("--reps")
const threads = value("--threads")
const report = await Bench.run({
  ...(groups ? { groups } : {}),
  ...(paths ? { paths } : {}),
  ...(reps ? { reps: Number(reps) } : {}),
  ...(threads ? { threads: Number(threads) } : {}),
  log: (line) => console.error(line)
})
console.log(args.includes("--json") ? JSON.stringify(report, null, 2) : Bench.format(report))
