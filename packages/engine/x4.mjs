import { createRequire } from 'node:module'
const blas = createRequire(import.meta.url)('./build/duet_blas.node')
const n = 1024, buf = new Float32Array(3*n*n).map(()=>Math.random())
for (const th of [1,2,1,2]) { blas.setThreads(th, 0)
 const ts=[]; for (let i=0;i<5;i++){ const t0=performance.now(); blas.sgemm(buf.buffer,false,false,n,n,n,1,0,1,0,0,n,n*n,0,n,2*n*n,0,n); ts.push(performance.now()-t0)}
 ts.sort((a,b)=>a-b); console.log(th, ts[2].toFixed(1), (2*n**3/ts[2]/1e6).toFixed(1)) }
