import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
await tf.setBackend('wasm')
const be = tf.backend(), w = be.wasm
const mm = w.cwrap('BatchMatMul', null, ['number','array','number','number','array','number','number','number','number'])
const info = (t) => be.dataIdMap.get(t.dataId)
const bytes = (s) => new Uint8Array(new Int32Array(s).buffer)
function alias(offsetBytes, size) { const id = be.dataIdNextNumber++; w.tfjs.registerTensor(id, size, offsetBytes); return id }
function perBatch(a, b) { // a [B,M,K], b [B,K,N]
  const [B,M,K] = a.shape, N = b.shape[2]
  const out = be.makeOutput([B,M,N], 'float32')
  const ao = info(a).memoryOffset, bo = info(b).memoryOffset, co = info(out.dataId ? out : out).memoryOffset ?? be.dataIdMap.get(out.dataId).memoryOffset
  const oo = be.dataIdMap.get(out.dataId).memoryOffset
  const as = bytes([1,M,K]), bs = bytes([1,K,N])
  for (let i=0;i<B;i++) {
    const ia = alias(ao + 4*i*M*K, M*K), ib = alias(bo + 4*i*K*N, K*N), ic = alias(oo + 4*i*M*N, M*N)
    mm(ia, as, 3, ib, bs, 3, 0, 0, ic)
    w.tfjs.disposeData(ia); w.tfjs.disposeData(ib); w.tfjs.disposeData(ic)
  }
  return tf.engine().makeTensorFromTensorInfo(out)
}
const med = (f, n=9) => { f(); const ts=[]; for (let i=0;i<n;i++){const t0=performance.now(); f(); ts.push(performance.now()-t0)} ts.sort((a,b)=>a-b); return ts[n>>1] }
for (const [B,M,K,N] of [[128,64,32,64],[128,64,64,32],[1024,1,32,64]]) {
const a = tf.randomNormal([B,M,K]), b = tf.randomNormal([B,K,N])
const d = tf.tidy(()=>tf.max(tf.abs(tf.sub(perBatch(a,b), tf.matMul(a,b)))).dataSync()[0])
const fl = 2*B*M*N*K
let r
console.log([B,M,K,N].join('x'), 'diff', d, 'stock', (r=med(()=>{const t=tf.matMul(a,b); t.dataSync(); t.dispose()})).toFixed(2), (fl/r/1e6).toFixed(1),
 'alias', (r=med(()=>{const t=perBatch(a,b); t.dataSync(); t.dispose()})).toFixed(2), (fl/r/1e6).toFixed(1))
}
