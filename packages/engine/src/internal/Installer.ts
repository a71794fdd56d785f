/**
 * Which duet kernels go on which backend. On wasm: BatchMatMul (native GEMM, OpenBLAS or JS) and
 * _FusedMatMul without activation (the same GEMM, bias added in place), Transpose (addon), Sum,
 * UnsortedSegmentSum and the fused kernels behind `Ops`; on every backend: the BatchMatMul
 * gradient that handles broadcast batch dims.
 */
import * as tf from "@tensorflow/tfjs"
import type { KernelFunc } from "@tensorflow/tfjs"
import { gatherKernel, identityKernel, transposeKernel } from "./CopyKernels.js"
import { fusedGradients, fusedKernels, softmaxGradConfig } from "./FusedKernels.js"
import { batchMatMulGradConfig } from "./MatMulGradient.js"
import { blasBatchMatMul, fusedMatMulKernel, jsBatchMatMul } from "./MatMulKernel.js"
import type { NativeAddon } from "./NativeAddon.js"
import { sumKernel, unsortedSegmentSumKernel } from "./ReductionKernels.js"
import { overrideGradient, overrideKernel, restoreGradient, restoreKernel, stockKernel } from "./KernelSwap.js"
import { assertWasmInternals } from "./WasmBackend.js"

export type KernelMode = { readonly kind: "addon"; readonly addon: NativeAddon } | { readonly kind: "js" }

type InstallOptions = { backend: string; mode: "gradients-only" } | { backend: "wasm"; mode: "all"; matmul: KernelMode }

const overridden: Array<{ name: string; backend: string }> = []
const gradients: string[] = []
let lastInstall: InstallOptions | undefined

/** True while duet's wasm kernels are installed (not inside `withStockKernels`, not kernels: "stock"). */
export const duetWasmKernelsActive = (): boolean => lastInstall?.mode === "all"

/** The addon duet's wasm kernels run on now (undefined: JS path, stock kernels, or not wasm). */
export const activeAddon = (): NativeAddon | undefined =>
  lastInstall?.mode === "all" && lastInstall.matmul.kind === "addon" ? lastInstall.matmul.addon : undefined

/**
 * Runs `f` with tfjs's stock kernels and gradients, then puts duet's back (benchmarks and tests
 * compare the two side by side in one process). Synchronous `f` only: kernels are looked up per call.
 */
export const withStockKernels = <A>(f: () => A): A => {
  const again = lastInstall
  restoreStockKernels()
  try {
    return f()
  } finally {
    if (again !== undefined) installDuetKernels(again)
  }
}

/** Puts every stock kernel and gradient duet replaced back. */
export const restoreStockKernels = (): void => {
  lastInstall = undefined
  for (const { name, backend } of overridden.splice(0)) restoreKernel(name, backend)
  for (const name of gradients.splice(0)) restoreGradient(name)
}

const install = (name: string, backend: string, f: KernelFunc): string => {
  overrideKernel(name, backend, f)
  overridden.push({ name, backend })
  return name
}

const stockFunc = (name: string, backend: string): KernelFunc => {
  const k = stockKernel(name, backend)
  if (k === undefined) throw new Error(`@duet/engine: the stock ${backend} backend has no ${name} kernel`)
  return k.kernelFunc
}

/** Registers duet's kernels; returns their names (gradients as "Name.grad"). */
export const installDuetKernels = (opts: InstallOptions): string[] => {
  restoreStockKernels()
  lastInstall = opts
  overrideGradient(batchMatMulGradConfig)
  gradients.push(tf.BatchMatMul)
  const names = [`${tf.BatchMatMul}.grad`]
  if (opts.mode === "gradients-only") return names
  const be = assertWasmInternals(tf.findBackend("wasm"))
  const stockMatMul = stockFunc(tf.BatchMatMul, "wasm")
  const matmul =
    opts.matmul.kind === "addon"
      ? blasBatchMatMul(opts.matmul.addon, stockMatMul)
      : jsBatchMatMul(stockMatMul, stockFunc(tf.Transpose, "wasm"), be)
  names.unshift(install(tf.BatchMatMul, "wasm", matmul))
  const addon = opts.matmul.kind === "addon" ? opts.matmul.addon : undefined
  names.push(install(tf._FusedMatMul, "wasm", fusedMatMulKernel(matmul, stockFunc(tf._FusedMatMul, "wasm"), stockFunc(tf.Add, "wasm"), addon)))
  names.push(install(tf.Sum, "wasm", sumKernel(stockFunc(tf.Sum, "wasm"), addon)))
  names.push(install(tf.Identity, "wasm", identityKernel(stockFunc(tf.Identity, "wasm"))))
  names.push(install(tf.GatherV2, "wasm", gatherKernel(stockFunc(tf.GatherV2, "wasm"))))
  if (addon?.transpose !== undefined) names.push(install(tf.Transpose, "wasm", transposeKernel(stockFunc(tf.Transpose, "wasm"), addon)))
  names.push(install(tf.UnsortedSegmentSum, "wasm", unsortedSegmentSumKernel(addon)))
  for (const g of fusedGradients) tf.registerGradient(g)
  overrideGradient(softmaxGradConfig)
  gradients.push(tf.Softmax)
  names.push(`${tf.Softmax}.grad`)
  for (const k of fusedKernels(addon)) {
    names.push(install(k.name, "wasm", k.kernelFunc))
  }
  return names
}
