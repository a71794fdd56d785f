import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { createRequire } from 'node:module'
const blas = createRequire(import.meta.url)('./build/duet_blas.node')
await tf.setBackend('wasm')
const be = tf.backend()
const off = (t) => be.dataIdMap.get(t.dataId).memoryOffset / 4
const n=1024
const x = tf.randomNormal([n,n]), y = tf.randomNormal([n,n]), z = tf.zeros([n,n])
const run = (label) => { for (const th of [1,2]) { blas.setThreads(th, 0)
 const ts=[]; for (let i=0;i<5;i++){ const t0=performance.now(); blas.sgemm(be.wasm.HEAPF32.buffer,false,false,n,n,n,1,0,1,off(x),0,n,off(y),0,n,off(z),0,n); ts.push(performance.now()-t0)}
 ts.sort((a,b)=>a-b); console.log(label, th, ts[2].toFixed(1), (2*n**3/ts[2]/1e6).toFixed(1)) } }
run('before')
const ts=[]; for (let i=0;i<3;i++){ const t0=performance.now(); tf.tidy(()=>tf.matMul(x,y).dataSync()); ts.push(performance.now()-t0)}; console.log('stock', ts.map(t=>t.toFixed(0)))
run('after stock mm')
