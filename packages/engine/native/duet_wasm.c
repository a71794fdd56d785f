// duet's wasm SIMD kernels: the fresh-machine path (no OpenBLAS, no compiler at install).
//
// Compiled once to wasm32 + simd128 by scripts/build-wasm.mjs (clang 14 + lld, Debian bookworm's
// `clang-14 lld-14`); the .wasm is committed as base64 in src/internal/WasmKernelsBinary.ts and
// rebuilt byte for byte by that script (a test checks when clang is present).
//
// The module imports tfjs-backend-wasm's own WebAssembly.Memory, so every kernel works on tensors
// where they live (zero copy), like the OpenBLAS addon does. Hence the rules for this file:
//   - no static data (no globals, no string or table constants): the linker would place it at
//     fixed addresses inside tfjs's heap; the build script refuses a module with a data section;
//   - no stack (no address-taken locals or local arrays): the same; scratch memory is passed in;
//   - no libc: the build script refuses any import other than the memory.
// Every pointer argument is a byte address in that memory.
//
// Determinism: each output's summation order depends only on the shapes (K is summed in blocks of
// KC, in order, each block's partial sum then added to C), never on timing or threads.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

// ---------------------------------------------------------------------------------------------
// SGEMM: C = alpha op(A) op(B) + beta C, row-major, op = transpose or not.
// B is packed per (KC x NC) block into NR-wide column panels, A per MR rows into k-major quads;
// the micro-kernel keeps an MR x NR tile of C in 8 v128 accumulators (x86 has 16 xmm registers).
#define KC 256
#define NC 512
#define MR 4
#define NR 8

static void pack_b(const float* B, int ldb, int tb, int k0, int kc, int j0, int nc, float* dst) {
  for (int jp = 0; jp < nc; jp += NR) {
    const int w = nc - jp < NR ? nc - jp : NR;
    float* panel = dst + jp * kc;
    if (!tb && w == NR) {
      for (int k = 0; k < kc; ++k) {
        const float* src = B + (k0 + k) * ldb + j0 + jp;
        wasm_v128_store(panel + k * NR, wasm_v128_load(src));
        wasm_v128_store(panel + k * NR + 4, wasm_v128_load(src + 4));
      }
    } else if (!tb) {
      for (int k = 0; k < kc; ++k) {
        const float* src = B + (k0 + k) * ldb + j0 + jp;
        for (int c = 0; c < NR; ++c) panel[k * NR + c] = c < w ? src[c] : 0.0f;
      }
    } else {
      for (int c = 0; c < NR; ++c) {
        if (c < w) {
          const float* src = B + (j0 + jp + c) * ldb + k0;
          for (int k = 0; k < kc; ++k) panel[k * NR + c] = src[k];
        } else {
          for (int k = 0; k < kc; ++k) panel[k * NR + c] = 0.0f;
        }
      }
    }
  }
}

static void pack_a(const float* A, int lda, int ta, int i0, int mr, int k0, int kc, float* dst) {
  if (ta) {
    // op(A)[i, k] = A[k, i]: each k's MR values are contiguous.
    for (int k = 0; k < kc; ++k) {
      const float* src = A + (k0 + k) * lda + i0;
      if (mr == MR) {
        wasm_v128_store(dst + k * MR, wasm_v128_load(src));
      } else {
        for (int r = 0; r < MR; ++r) dst[k * MR + r] = r < mr ? src[r] : 0.0f;
      }
    }
  } else {
    for (int r = 0; r < MR; ++r) {
      if (r < mr) {
        const float* src = A + (i0 + r) * lda + k0;
        for (int k = 0; k < kc; ++k) dst[k * MR + r] = src[k];
      } else {
        for (int k = 0; k < kc; ++k) dst[k * MR + r] = 0.0f;
      }
    }
  }
}

// acc -> C rows (mr x nr valid). first: C = alpha acc + beta C (beta 0: C is not read, as BLAS);
// later K blocks: C += alpha acc.
static inline void store_row(float* c, v128_t lo, v128_t hi, int nr, float alpha, float beta, int first, float* tile) {
  const v128_t va = wasm_f32x4_splat(alpha);
  lo = wasm_f32x4_mul(lo, va);
  hi = wasm_f32x4_mul(hi, va);
  if (nr == NR) {
    if (first) {
      if (beta != 0.0f) {
        const v128_t vb = wasm_f32x4_splat(beta);
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(vb, wasm_v128_load(c)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(vb, wasm_v128_load(c + 4)));
      }
    } else {
      lo = wasm_f32x4_add(wasm_v128_load(c), lo);
      hi = wasm_f32x4_add(wasm_v128_load(c + 4), hi);
    }
    wasm_v128_store(c, lo);
    wasm_v128_store(c + 4, hi);
    return;
  }
  wasm_v128_store(tile, lo);
  wasm_v128_store(tile + 4, hi);
  for (int j = 0; j < nr; ++j) {
    const float v = tile[j];
    c[j] = first ? (beta != 0.0f ? v + beta * c[j] : v) : c[j] + v;
  }
}

static void micro(int kc, const float* a, const float* b, float* c, int ldc, int mr, int nr, float alpha, float beta,
                  int first, float* tile) {
  v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; ++k) {
    const v128_t b0 = wasm_v128_load(b);
    const v128_t b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(a);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    a0 = wasm_v128_load32_splat(a + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a0, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a0, b1));
    a0 = wasm_v128_load32_splat(a + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a0, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a0, b1));
    a0 = wasm_v128_load32_splat(a + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a0, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a0, b1));
    a += MR;
    b += NR;
  }
  store_row(c, c00, c01, nr, alpha, beta, first, tile);
  if (mr > 1) store_row(c + ldc, c10, c11, nr, alpha, beta, first, tile);
  if (mr > 2) store_row(c + 2 * ldc, c20, c21, nr, alpha, beta, first, tile);
  if (mr > 3) store_row(c + 3 * ldc, c30, c31, nr, alpha, beta, first, tile);
}

// Scratch floats sgemm needs: KC * NC (B block) + MR * KC (A panel) + NR (edge tile).
EXPORT(sgemm_scratch) int sgemm_scratch(void) { return KC * NC + MR * KC + NR; }

static void gemm1(int ta, int tb, int M, int N, int K, float alpha, float beta, const float* A, int lda, const float* B,
                  int ldb, float* C, int ldc, float* scratch) {
  float* bp = scratch;
  float* ap = scratch + KC * NC;
  float* tile = ap + MR * KC;
  if (K == 0) {
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[i * ldc + j] = beta != 0.0f ? beta * C[i * ldc + j] : 0.0f;
    return;
  }
  for (int j0 = 0; j0 < N; j0 += NC) {
    const int nc = N - j0 < NC ? N - j0 : NC;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = K - k0 < KC ? K - k0 : KC;
      pack_b(B, ldb, tb, k0, kc, j0, nc, bp);
      for (int i0 = 0; i0 < M; i0 += MR) {
        const int mr = M - i0 < MR ? M - i0 : MR;
        pack_a(A, lda, ta, i0, mr, k0, kc, ap);
        for (int jp = 0; jp < nc; jp += NR) {
          const int nr = nc - jp < NR ? nc - jp : NR;
          micro(kc, ap, bp + jp * kc, C + i0 * ldc + j0 + jp, ldc, mr, nr, alpha, beta, k0 == 0, tile);
        }
      }
    }
  }
}

// Batched: entry i uses A + i*sA, B + i*sB, C + i*sC (strides in floats; 0 broadcasts).
EXPORT(sgemm)
void sgemm(int ta, int tb, int M, int N, int K, float alpha, float beta, int batch, const float* A, int sA, int lda,
           const float* B, int sB, int ldb, float* C, int sC, int ldc, float* scratch) {
  for (int i = 0; i < batch; ++i) gemm1(ta, tb, M, N, K, alpha, beta, A + i * sA, lda, B + i * sB, ldb, C + i * sC, ldc, scratch);
}

// Batched with one float offset per entry (any broadcast of batch dims): offs = [a..., b..., c...].
EXPORT(sgemm_offsets)
void sgemm_offsets(int ta, int tb, int M, int N, int K, float alpha, float beta, int batch, float* heap, const int32_t* offs,
                   int lda, int ldb, int ldc, float* scratch) {
  for (int i = 0; i < batch; ++i) {
    gemm1(ta, tb, M, N, K, alpha, beta, heap + offs[i], lda, heap + offs[batch + i], ldb, heap + offs[2 * batch + i], ldc, scratch);
  }
}

// ---------------------------------------------------------------------------------------------
// Fused elementwise / row kernels: the same formulas as native/duet_blas.cc (see there).

static inline float exp_f(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float kf = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  float r = x - kf * 0.693359375f;
  r = r + kf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)kf + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

#define K_SIG 1.702f
#define K_TANH2 1.5957691216057308f
#define K_CUBIC 0.044715f

EXPORT(gelu) void gelu(const float* x, float* y, int n, int form) {
  if (form == 0) {
    for (int i = 0; i < n; ++i) y[i] = x[i] / (1.0f + exp_f(-K_SIG * x[i]));
  } else {
    for (int i = 0; i < n; ++i) {
      const float v = x[i];
      y[i] = v / (1.0f + exp_f(-K_TANH2 * (v + K_CUBIC * v * v * v)));
    }
  }
}

EXPORT(gelu_grad) void gelu_grad(const float* dy, const float* x, float* dx, int n, int form) {
  if (form == 0) {
    for (int i = 0; i < n; ++i) {
      const float v = x[i];
      const float s = 1.0f / (1.0f + exp_f(-K_SIG * v));
      dx[i] = dy[i] * (s + v * s * (1.0f - s) * K_SIG);
    }
  } else {
    for (int i = 0; i < n; ++i) {
      const float v = x[i];
      const float s = 1.0f / (1.0f + exp_f(-K_TANH2 * (v + K_CUBIC * v * v * v)));
      dx[i] = dy[i] * (s + v * s * (1.0f - s) * K_TANH2 * (1.0f + 3.0f * K_CUBIC * v * v));
    }
  }
}

EXPORT(layer_norm)
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int rows, int cols, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += xr[c];
    const double mean = sum / cols;
    double sq = 0;
    for (int c = 0; c < cols; ++c) {
      const double d = xr[c] - mean;
      sq += d * d;
    }
    const float rstd = (float)(1.0 / __builtin_sqrt(sq / cols + eps));
    const float m = (float)mean;
    if (beta != 0) {
      for (int c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rstd * gamma[c] + beta[c];
    } else {
      for (int c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rstd * gamma[c];
    }
  }
}

// scratch: 2 * cols doubles + cols floats.
EXPORT(layer_norm_grad)
void layer_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta, int rows,
                     int cols, float eps, double* scratch) {
  double* dg = scratch;
  double* db = scratch + cols;
  float* xh = (float*)(scratch + 2 * cols);
  for (int c = 0; c < cols; ++c) dg[c] = db[c] = 0.0;
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += xr[c];
    const double mean = sum / cols;
    double sq = 0;
    for (int c = 0; c < cols; ++c) {
      const double d = xr[c] - mean;
      sq += d * d;
    }
    const float rstd = (float)(1.0 / __builtin_sqrt(sq / cols + eps));
    const float m = (float)mean;
    double sg = 0, sgx = 0;
    for (int c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - m) * rstd;
      const float g = dyr[c] * gamma[c];
      xh[c] = xhat;
      sg += g;
      sgx += (double)g * xhat;
      dg[c] += (double)dyr[c] * xhat;
      db[c] += dyr[c];
    }
    const float mg = (float)(sg / cols), mgx = (float)(sgx / cols);
    for (int c = 0; c < cols; ++c) dxr[c] = rstd * (dyr[c] * gamma[c] - mg - xh[c] * mgx);
  }
  for (int c = 0; c < cols; ++c) {
    dgamma[c] = (float)dg[c];
    dbeta[c] = (float)db[c];
  }
}

// out[o, i] = sum_m x[o, m, i] for i in [i0, i0 + w) (float64 accumulators in scratch, w doubles).
EXPORT(sum_rows)
void sum_rows(const float* x, float* out, int outer, int mid, int inner, int i0, int w, double* acc) {
  for (int o = 0; o < outer; ++o) {
    for (int i = 0; i < w; ++i) acc[i] = 0.0;
    const float* xo = x + (int64_t)o * mid * inner + i0;
    for (int m = 0; m < mid; ++m) {
      const float* row = xo + (int64_t)m * inner;
      for (int i = 0; i < w; ++i) acc[i] += row[i];
    }
    float* dst = out + (int64_t)o * inner + i0;
    for (int i = 0; i < w; ++i) dst[i] = (float)acc[i];
  }
}

EXPORT(sum_squares) double sum_squares(const float* x, int n) {
  double acc = 0;
  for (int i = 0; i < n; ++i) acc += (double)x[i] * x[i];
  return acc;
}

EXPORT(adam_w)
void adam_w(int n, const float* g_, const float* p_, const float* m_, const float* v_, float* pt, float* mt, float* vt,
            double scale, double b1, double b2, double keep, double step, double bc2, double eps) {
  for (int i = 0; i < n; ++i) {
    const double g = g_[i] * scale;
    const double m = b1 * m_[i] + (1 - b1) * g;
    const double v = b2 * v_[i] + (1 - b2) * g * g;
    const double p = p_[i] * keep - step * m / (__builtin_sqrt(v) / bc2 + eps);
    mt[i] = (float)m;
    vt[i] = (float)v;
    pt[i] = (float)p;
  }
}

EXPORT(segment_sum)
void segment_sum(const float* x, const int32_t* ids, float* out, int n, int inner, int segs) {
  for (int i = 0; i < segs * inner; ++i) out[i] = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int s = ids[i];
    if (s < 0 || s >= segs) continue;
    const float* xr = x + (int64_t)i * inner;
    float* o = out + (int64_t)s * inner;
    for (int j = 0; j < inner; ++j) o[j] += xr[j];
  }
}

EXPORT(softmax_grad) void softmax_grad(const float* dy, const float* y, float* dx, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* dyr = dy + (int64_t)r * cols;
    const float* yr = y + (int64_t)r * cols;
    float* dxr = dx + (int64_t)r * cols;
    double s = 0;
    for (int c = 0; c < cols; ++c) s += (double)dyr[c] * yr[c];
    const float sf = (float)s;
    for (int c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - sf);
  }
}

// One decode step of attention over a KV cache in this memory: the native addon's loop (duet_blas.cc,
// DecodeAttentionLoop) without its prefetches. For each of n rows (cache row rows[i]) and head h,
// store k, v at `position`, then out = softmax(scale q K[0..position]^T) V[0..position].
// q, k, v, out: (n, H*hd); kc, vc: (batch, H, cap, hd); scores: position + 1 floats of scratch.
EXPORT(decode_attention)
void decode_attention(const float* q, const float* k, const float* v, float* out, const int32_t* rows, int n, int position,
                      float* kc, float* vc, int H, int cap, int hd, float scale, float* scores) {
  const int C = H * hd;
  for (int i = 0; i < n; ++i) {
    const int b = rows[i];
    for (int hh = 0; hh < H; ++hh) {
      float* K = kc + ((int64_t)b * H + hh) * cap * hd;
      float* V = vc + ((int64_t)b * H + hh) * cap * hd;
      const float* qi = q + (int64_t)i * C + hh * hd;
      const float* ki = k + (int64_t)i * C + hh * hd;
      const float* vi = v + (int64_t)i * C + hh * hd;
      for (int d = 0; d < hd; ++d) {
        K[position * hd + d] = ki[d];
        V[position * hd + d] = vi[d];
      }
      float mx = -3.4e38f;
      for (int t = 0; t <= position; ++t) {
        float s = 0;
        const float* kt = K + t * hd;
        for (int d = 0; d < hd; ++d) s += qi[d] * kt[d];
        s *= scale;
        scores[t] = s;
        mx = s > mx ? s : mx;
      }
      float total = 0;
      for (int t = 0; t <= position; ++t) {
        scores[t] = exp_f(scores[t] - mx);
        total += scores[t];
      }
      const float inv = 1.0f / total;
      float* o = out + (int64_t)i * C + hh * hd;
      for (int d = 0; d < hd; ++d) o[d] = 0;
      for (int t = 0; t <= position; ++t) {
        const float p = scores[t] * inv;
        const float* vt = V + t * hd;
        for (int d = 0; d < hd; ++d) o[d] += p * vt[d];
      }
    }
  }
}
