/**
 * Registers duet's kernels over the stock ones for one backend and puts the stock ones back.
 * The stock configs are captured the first time a name is overridden, so `restore` returns the
 * registry to exactly what tfjs registered (or to nothing, for kernels tfjs lacks).
 */
import * as tf from "@tensorflow/tfjs"
import type { GradConfig, KernelConfig, KernelFunc } from "@tensorflow/tfjs"

const stockKernels = new Map<string, KernelConfig | null>()
const stockGradients = new Map<string, GradConfig | null>()

const key = (name: string, backend: string) => `${backend}/${name}`

/** The stock kernel, captured before any override; undefined when tfjs has none. */
export const stockKernel = (name: string, backend: string): KernelConfig | undefined => {
  const k = key(name, backend)
  if (!stockKernels.has(k)) stockKernels.set(k, tf.getKernel(name, backend) ?? null)
  return stockKernels.get(k) ?? undefined
}

export const overrideKernel = (name: string, backend: string, kernelFunc: KernelFunc): void => {
  stockKernel(name, backend)
  if (tf.getKernel(name, backend) !== undefined) tf.unregisterKernel(name, backend)
  tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc })
}

export const restoreKernel = (name: string, backend: string): void => {
  const stock = stockKernel(name, backend)
  if (tf.getKernel(name, backend) !== undefined) tf.unregisterKernel(name, backend)
  if (stock !== undefined) tf.registerKernel(stock)
}

export const overrideGradient = (config: GradConfig): void => {
  if (!stockGradients.has(config.kernelName)) stockGradients.set(config.kernelName, tf.getGradient(config.kernelName) ?? null)
  tf.registerGradient(config)
}

export const restoreGradient = (kernelName: string): void => {
  const stock = stockGradients.get(kernelName)
  if (stock) tf.registerGradient(stock)
}
