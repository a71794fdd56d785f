#!/usr/bin/env node
// duet's native GEMM beside OpenBLAS's, on the default and reference models' GEMM shapes, in one
// process: each round times every addon on every shape (order alternating between rounds), with 1
// and with 2 threads; prints the median GFLOP/s of each and the per-shape ratio (median of the
// per-round ratios), and checks that 2 threads give the same bits as 1.
//   node tools/bench-gemm/bench-gemm.mjs [--rounds 5] [--threads 1,2] [--json]
// Needs the addons (`npm run build:addon -w @duet/engine`; both are built when g++ and
// libopenblas-dev are present).
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"

const args = process.argv.slice(2)
if (args.includes("--help")) {
  console.log("usage: node tools/bench-gemm/bench-gemm.mjs [--rounds 5] [--threads 1,2] [--only LABEL-PREFIX] [--json]")
  process.exit(0)
}
const value = (flag, d) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : d)
const rounds = Number(value("--rounds", 5))
const threadCounts = value("--threads", "1,2").split(",").map(Number)
const build = new URL("../../packages/engine/build/", import.meta.url).pathname
const require = createRequire(import.meta.url)
const addons = [["native", "duet_native.node"], ["openblas", "duet_blas.node"]]
  .filter(([, f]) => existsSync(build + f))
  .map(([name, f]) => ({ name, addon: require(build + f) }))
if (addons.length === 0) throw new Error(`no addon in ${build}; run npm run build:addon -w @duet/engine`)

// [label, transA, transB, M, N, K, batch]: forward, input gradient, weight gradient, attention;
// and SmolLM2-135M's decode (8 rows) and training products (Hugging Face linears: B transposed).
const shapes = [
  ["default fwd  x W1    ", false, false, 7168, 384, 96, 1],
  ["default bwd  dY W1^T ", false, true, 7168, 96, 384, 1],
  ["default bwd  X^T dY  ", true, false, 96, 384, 7168, 1],
  ["ref fwd      x W1    ", false, false, 2048, 512, 128, 1],
  ["ref bwd      X^T dY  ", true, false, 128, 512, 2048, 1],
  ["ref bwd      dY W2^T ", false, true, 2048, 128, 512, 1],
  ["ref attn     Q K^T   ", false, true, 64, 64, 32, 128],
  ["ref attn     P V     ", false, false, 64, 32, 64, 128],
  ["decode       x W1    ", false, false, 512, 512, 128, 1],
  ["decode       x Wqkv  ", false, false, 256, 384, 128, 1],
  ["135M decode  x Wq^T  ", false, true, 8, 576, 576, 1],
  ["135M decode  x Wup^T ", false, true, 8, 1536, 576, 1],
  ["135M decode  x E^T   ", false, true, 8, 49152, 576, 1],
  ["135M train   x Wup^T ", false, true, 512, 1536, 576, 1],
  // The same-task TRL harness's update (reference dims, 512 rows x 15 tokens): K = 128 products.
  ["task fwd     x Wq    ", false, false, 7680, 128, 128, 1],
  ["task bwd     dY Wq^T ", false, true, 7680, 128, 128, 1],
  ["task bwd     X^T dY  ", true, false, 128, 128, 7680, 1],
  ["task fwd     x Wfc   ", false, false, 7680, 512, 128, 1],
  ["task bwd     dY Wfc^T", false, true, 7680, 128, 512, 1],
  ["task attn    Q K^T   ", false, true, 15, 15, 32, 2048],
  ["task attn    P V     ", false, false, 15, 32, 15, 2048]
].filter((sh) => sh[0].startsWith(value("--only", "")))
const heap = new Float32Array(192 << 20)
let s = 7
for (let i = 0; i < heap.length; i++) heap[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5
const A = 0, B = 12 << 20, C = 48 << 20, C2 = 96 << 20
const call = (addon, [, ta, tb, M, N, K, batch], c) =>
  addon.sgemm(heap.buffer, ta, tb, M, N, K, 1, 0, batch, A, M * K, ta ? M : K, B, K * N, tb ? K : N, c, M * N, N)
const timeOne = (addon, sh) => {
  const flops = 2 * sh[3] * sh[4] * sh[5] * sh[6]
  const reps = Math.max(3, Math.round(3e8 / flops))
  call(addon, sh, C)
  const t0 = process.hrtime.bigint()
  for (let r = 0; r < reps; r++) call(addon, sh, C)
  return Number(process.hrtime.bigint() - t0) / 1e9 / reps
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const variants = addons.flatMap(({ name, addon }) => threadCounts.map((t) => ({ key: `${name}/${t}`, name, addon, threads: t })))
const results = shapes.map(() => Object.fromEntries(variants.map((v) => [v.key, []])))
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? variants : [...variants].reverse()
  shapes.forEach((sh, i) => {
    for (const v of order) {
      v.addon.setThreads(v.threads, 2e6)
      results[i][v.key].push(timeOne(v.addon, sh))
    }
  })
}
// 2 threads against 1, bit for bit (every GEMM split: smallFlops 0).
const identical = Object.fromEntries(addons.map(({ name, addon }) => [name, shapes.every((sh) => {
  const n = sh[3] * sh[4] * sh[6]
  addon.setThreads(1); call(addon, sh, C)
  addon.setThreads(2, 0); call(addon, sh, C2)
  addon.setThreads(1)
  for (let i = 0; i < n; i++) if (!Object.is(heap[C + i], heap[C2 + i])) return false
  return true
})]))
const rows = shapes.map((sh, i) => {
  const flops = 2 * sh[3] * sh[4] * sh[5] * sh[6]
  const gf = Object.fromEntries(variants.map((v) => [v.key, flops / median(results[i][v.key]) / 1e9]))
  const ratio = addons.length === 2 ? median(results[i]["openblas/1"].map((t, k) => t / results[i]["native/1"][k])) : undefined
  return { shape: sh[0].trim(), M: sh[3], N: sh[4], K: sh[5], batch: sh[6], transA: sh[1], transB: sh[2], gflops: gf, nativeOverOpenblas1: ratio }
})
const load = os.loadavg()[0].toFixed(1)
if (args.includes("--json")) {
  console.log(JSON.stringify({ rounds, load, configs: addons.map(({ name, addon }) => [name, addon.config()]), identicalAcrossThreads: identical, rows }, null, 2))
} else {
  console.log(`# ${addons.map(({ name, addon }) => `${name}: ${addon.config()}`).join("; ")}`)
  console.log(`# ${rounds} alternating rounds, medians; load average ${load}; 2 threads == 1 thread bit for bit: ${JSON.stringify(identical)}`)
  console.log(["shape", "M x N x K (batch)", ...variants.map((v) => `${v.key} GFLOP/s`), "native/openblas (1 thread)"].join(" | "))
  for (const r of rows) {
    console.log([r.shape, `${r.M}x${r.N}x${r.K}${r.batch > 1 ? ` (${r.batch})` : ""}${r.transA ? " A^T" : ""}${r.transB ? " B^T" : ""}`,
      ...variants.map((v) => r.gflops[v.key].toFixed(1)), r.nativeOverOpenblas1 === undefined ? "" : `${r.nativeOverOpenblas1.toFixed(2)}x`].join(" | "))
  }
}
