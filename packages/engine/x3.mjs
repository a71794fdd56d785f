import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { createRequire } from 'node:module'
const blas = createRequire(import.meta.url)('./build/duet_blas.node')
await tf.setBackend('wasm')
const be = tf.backend()
const off = (t) => be.dataIdMap.get(t.dataId).memoryOffset / 4
const med = (f, n=7) => { f(); const ts=[]; for (let i=0;i<n;i++){const t0=performance.now(); f(); ts.push(performance.now()-t0)} ts.sort((a,b)=>a-b); return ts[n>>1] }
function blasMM(a, b, ta, tb) {
  const M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1], N = tb ? b.shape[0] : b.shape[1]
  const out = be.makeOutput([M, N], 'float32')
  blas.sgemm(be.wasm.HEAPF32.buffer, ta, tb, M, N, K, 1, 0, 1, off(a), 0, a.shape[1], off(b), 0, b.shape[1], off(out), 0, N)
  return tf.engine().makeTensorFromTensorInfo(out)
}
blas.setThreads(1)
const a = tf.randomNormal([2048,128]), b = tf.randomNormal([2048,512])
const flops = 2*2048*128*512
let r
console.log('stock T', (r=med(()=>{const t=tf.matMul(a,b,true,false); t.dataSync(); t.dispose()},3)).toFixed(1), 'ms', (flops/r/1e6).toFixed(1),'GF')
console.log('transpose+stock', (r=med(()=>{const t=tf.matMul(tf.transpose(a),b); t.dataSync(); t.dispose()})).toFixed(1), (flops/r/1e6).toFixed(1))
console.log('transpose only', (r=med(()=>{const t=tf.transpose(a); t.dataSync(); t.dispose()})).toFixed(2))
for (const th of [1,2]) { blas.setThreads(th, 0)
console.log('blas', th, (r=med(()=>{const t=blasMM(a,b,true,false); t.dataSync(); t.dispose()})).toFixed(2), (flops/r/1e6).toFixed(1)) }
const check = tf.tidy(()=>tf.max(tf.abs(tf.sub(blasMM(a,b,true,false), tf.matMul(tf.transpose(a),b)))).dataSync()[0]); console.log('maxdiff', check)
// 1024^3
const x = tf.randomNormal([1024,1024]), y = tf.randomNormal([1024,1024])
const f2 = 2*1024**3
console.log('stock 1024', (r=med(()=>{const t=tf.matMul(x,y); t.dataSync(); t.dispose()},3)).toFixed(1), (f2/r/1e6).toFixed(1))
for (const th of [1,2]) { blas.setThreads(th, 0)
console.log('blas 1024', th, (r=med(()=>{const t=blasMM(x,y,false,false); t.dataSync(); t.dispose()})).toFixed(2), (f2/r/1e6).toFixed(1)) }
// decode-sized
const p = tf.randomNormal([64,128]), q = tf.randomNormal([128,512]); const f3 = 2*64*128*512
console.log('stock small', (r=med(()=>{const t=tf.matMul(p,q); t.dataSync(); t.dispose()},21)).toFixed(3), (f3/r/1e6).toFixed(1))
for (const th of [1,2]) { blas.setThreads(th, 0)
console.log('blas small', th, (r=med(()=>{const t=blasMM(p,q,false,false); t.dataSync(); t.dispose()},21)).toFixed(3), (f3/r/1e6).toFixed(1)) }
