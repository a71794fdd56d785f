/** Fused kernels behind `Ops` (filled in below as they land). */
import type { KernelFunc } from "@tensorflow/tfjs"
import type { NativeAddon } from "./NativeAddon.js"

export const fusedKernels = (_addon: NativeAddon | undefined): Array<{ name: string; kernelFunc: KernelFunc }> => []
