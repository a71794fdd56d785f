import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
await tf.setBackend('wasm')
const a = tf.randomNormal([2048,128])
for (let i=0;i<5;i++) { const t0=performance.now(); const t = tf.transpose(a); const t1=performance.now(); t.dataSync(); const t2=performance.now(); t.dispose(); console.log('T', (t1-t0).toFixed(2), (t2-t1).toFixed(2)) }
for (let i=0;i<5;i++) { const t0=performance.now(); tf.tidy(()=>tf.transpose(a).dataSync()); console.log('tidy', (performance.now()-t0).toFixed(2)) }
