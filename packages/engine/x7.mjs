import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { createRequire } from 'node:module'
const blas = createRequire(import.meta.url)('./build/duet_blas.node')
await tf.setBackend('wasm')
const be = tf.backend()
const off = (t) => be.dataIdMap.get(t.dataId).memoryOffset / 4
const n=1024
const x = tf.randomNormal([n,n]), y = tf.randomNormal([n,n])
blas.setThreads(1,0)
for (let i=0;i<4;i++) {
  const t0=performance.now()
  const out = be.makeOutput([n, n], 'float32')
  const t1=performance.now()
  blas.sgemm(be.wasm.HEAPF32.buffer,false,false,n,n,n,1,0,1,off(x),0,n,off(y),0,n,off(out),0,n)
  const t2=performance.now()
  const t = tf.engine().makeTensorFromTensorInfo(out); t.dataSync()
  const t3=performance.now()
  t.dispose()
  console.log((t1-t0).toFixed(2),(t2-t1).toFixed(2),(t3-t2).toFixed(2), be.wasm.HEAPF32.buffer.byteLength)
}
