// duet_gemm: duet's own single-precision GEMM for machines without OpenBLAS, compiled into the
// addon at install (scripts/build-addon.mjs, -DDUET_OWN_GEMM, -march=native) with the C++
// compiler the machine has.
//
//   C = alpha op(A) op(B) + beta C,   row-major, op(X) = X or X^T;  op(A): M x K, op(B): K x N.
//
// Blocked as GotoBLAS/BLIS: K in blocks of KC; per block, op(B) is packed into NR-wide column
// panels (k-major); a register-tiled MR x NR micro-kernel accumulates them against op(A) read in
// place (packing A cost as much as a quarter of the multiply-adds at K = 128). Edge tiles run the
// same micro-kernel on zero-padded panels.
//
// Summation order: every C element is one accumulator, updated k = 0, 1, ..., K-1 in order (a K
// block starts from the previous block's stored value), with one fused multiply-add per k. So an
// element's value depends only on its row of op(A) and column of op(B), never on where it lies
// in the tile grid; computing any sub-block of C (a range of rows or columns, e.g. on another
// thread) gives bit-identical results. Tests check this (NativeGemm.test.ts). One exception to the
// blocking, not to the rule: a GEMM with at most kDotRows rows times a large transposed B runs as
// dot products (DotBlock below), each also summed in an order fixed by K.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#define DUET_GEMM_KIND "AVX-512"
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define DUET_GEMM_KIND "AVX2+FMA"
#else
#define DUET_GEMM_KIND "generic vectors"
#endif

namespace duet_gemm {

#if defined(__AVX512F__)
constexpr int64_t MR = 8;    // rows per micro-tile
constexpr int64_t NR = 32;   // columns per micro-tile (two 16-float vectors)
#else
constexpr int64_t MR = 6;    // rows per micro-tile
constexpr int64_t NR = 16;   // columns per micro-tile (two 8-float vectors)
#endif
constexpr int64_t KC = 256;  // K per block: a B micro-panel (KC x NR) stays in L1
constexpr int64_t MC = 96;   // rows per A block: MC x KC floats stay in L2

// acc(MR x NR) = (first ? 0 : c) + sum_k a(:, k) (x) pb[k]; c has leading dimension ldc. A is read
// where it lies: a(i, k) = pa[k * lda + i] (kMajor: a packed panel, lda = MR, or op(A) = A^T read in
// place) or pa[i * lda + k] (A's rows read in place). The tile is always full-size here (edge tiles
// go through a padded local buffer).
#if defined(__AVX512F__)
template <bool kMajor>
static inline void MicroKernel(int64_t kc, const float* pa, int64_t lda, const float* pb, float* c, int64_t ldc, bool first) {
  __m512 acc[MR][2];
  for (int64_t i = 0; i < MR; ++i) {
    acc[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + i * ldc);
    acc[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + i * ldc + 16);
  }
  for (int64_t k = 0; k < kc; ++k, pa += kMajor ? lda : 1, pb += NR) {
    const __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
#pragma GCC unroll 8
    for (int64_t i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(kMajor ? pa[i] : pa[i * lda]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  for (int64_t i = 0; i < MR; ++i) {
    _mm512_storeu_ps(c + i * ldc, acc[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
template <bool kMajor>
static inline void MicroKernel(int64_t kc, const float* pa, int64_t lda, const float* pb, float* c, int64_t ldc, bool first) {
  const int64_t si = kMajor ? 1 : lda;  // a(i, k) = pa[k * sk + i * si]
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (first) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  } else {
    c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
    c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  }
  for (int64_t k = 0; k < kc; ++k, pa += kMajor ? lda : 1, pb += NR) {
    const __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
    __m256 a = _mm256_broadcast_ss(pa + 0 * si);
    c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(pa + 1 * si);
    c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(pa + 2 * si);
    c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(pa + 3 * si);
    c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(pa + 4 * si);
    c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(pa + 5 * si);
    c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  _mm256_storeu_ps(c + 0 * ldc, c00), _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10), _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}
#else
// Portable: GCC/Clang vector extensions (SSE, NEON, ...). One rounding per multiply and per add;
// the same order as above, element for element.
typedef float V8 __attribute__((vector_size(32)));
static_assert(NR == 16, "the generic kernel is two 8-float vectors wide");
template <bool kMajor>
static inline void MicroKernel(int64_t kc, const float* pa, int64_t lda, const float* pb, float* c, int64_t ldc, bool first) {
  const int64_t si = kMajor ? 1 : lda;  // a(i, k) = pa[k * sk + i * si]
  V8 acc[MR][2];
  for (int64_t i = 0; i < MR; ++i) {
    if (first) {
      acc[i][0] = V8{} , acc[i][1] = V8{};
    } else {
      std::memcpy(&acc[i][0], c + i * ldc, 32);
      std::memcpy(&acc[i][1], c + i * ldc + 8, 32);
    }
  }
  for (int64_t k = 0; k < kc; ++k, pa += kMajor ? lda : 1, pb += NR) {
    V8 b0, b1;
    std::memcpy(&b0, pb, 32);
    std::memcpy(&b1, pb + 8, 32);
    for (int64_t i = 0; i < MR; ++i) {
      acc[i][0] += pa[i * si] * b0;
      acc[i][1] += pa[i * si] * b1;
    }
  }
  for (int64_t i = 0; i < MR; ++i) {
    std::memcpy(c + i * ldc, &acc[i][0], 32);
    std::memcpy(c + i * ldc + 8, &acc[i][1], 32);
  }
}
#endif

// op(A)[r][k] for r in [r0, r0+MR) (zero past m), k in [k0, k0+kc) into pa (k-major, MR per k).
static inline void PackA(const float* a, int64_t lda, bool ta, int64_t r0, int64_t m, int64_t k0, int64_t kc, float* pa) {
  const int64_t rows = std::min(MR, m - r0);
  if (ta) {  // op(A)[r][k] = a[k * lda + r]
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = a + (k0 + k) * lda + r0;
      float* dst = pa + k * MR;
      int64_t i = 0;
      for (; i < rows; ++i) dst[i] = src[i];
      for (; i < MR; ++i) dst[i] = 0.f;
    }
  } else {  // op(A)[r][k] = a[r * lda + k]: MR row streams, written k-major
    const float* src[MR];
    for (int64_t i = 0; i < MR; ++i) src[i] = a + (r0 + std::min(i, rows - 1)) * lda + k0;
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = pa + k * MR;
      for (int64_t i = 0; i < MR; ++i) dst[i] = i < rows ? src[i][k] : 0.f;
    }
  }
}

// op(B)[k][c] for c in [c0, c0+NR) (zero past n), k in [k0, k0+kc) into pb (k-major, NR per k).
static inline void PackB(const float* b, int64_t ldb, bool tb, int64_t c0, int64_t n, int64_t k0, int64_t kc, float* pb) {
  const int64_t cols = std::min(NR, n - c0);
  if (!tb) {  // op(B)[k][c] = b[k * ldb + c]
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = b + (k0 + k) * ldb + c0;
      float* dst = pb + k * NR;
      int64_t j = 0;
      for (; j < cols; ++j) dst[j] = src[j];
      for (; j < NR; ++j) dst[j] = 0.f;
    }
  } else {  // op(B)[k][c] = b[c * ldb + k]: NR column streams, in k chunks that stay in L1
    constexpr int64_t kChunk = 16;
    for (int64_t kb = 0; kb < kc; kb += kChunk) {
      const int64_t ke = std::min(kc, kb + kChunk);
      for (int64_t j = 0; j < NR; ++j) {
        if (j < cols) {
          const float* src = b + (c0 + j) * ldb + k0;
          for (int64_t k = kb; k < ke; ++k) pb[k * NR + j] = src[k];
        } else {
          for (int64_t k = kb; k < ke; ++k) pb[k * NR + j] = 0.f;
        }
      }
    }
  }
}

// Few rows times a transposed B (decode: a handful of rows against a weight stored [out, in], as
// Hugging Face linears are): packing B would transpose the whole weight on every call, so instead
// each C element is a dot product of two contiguous rows, A[r] and B[c], read where they lie. Lane
// l of a vector accumulator sums k = l, l + W, l + 2W, ... with one FMA each, the lanes are then
// added in index order and the K % W tail last, in order: fixed by K alone, so any split of C
// still gives the same bits. Used when the whole GEMM (not a sub-block) has M <= kDotRows and B
// is weight-sized (N * K >= kDotMinB): below that, packing is cheap and the blocked kernel runs.
constexpr int64_t kDotRows = 16;
constexpr int64_t kDotMinB = int64_t{1} << 18;

#if defined(__AVX512F__)
typedef __m512 DotVec;
constexpr int64_t kDotW = 16;
static inline DotVec DotZero() { return _mm512_setzero_ps(); }
static inline DotVec DotFma(const float* x, const float* y, DotVec acc) { return _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(y), acc); }
static inline DotVec DotFmaV(DotVec x, const float* y, DotVec acc) { return _mm512_fmadd_ps(x, _mm512_loadu_ps(y), acc); }
static inline DotVec DotLoad(const float* x) { return _mm512_loadu_ps(x); }
static inline void DotStore(float* out, DotVec v) { _mm512_storeu_ps(out, v); }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 DotVec;
constexpr int64_t kDotW = 8;
static inline DotVec DotZero() { return _mm256_setzero_ps(); }
static inline DotVec DotFma(const float* x, const float* y, DotVec acc) { return _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y), acc); }
static inline DotVec DotFmaV(DotVec x, const float* y, DotVec acc) { return _mm256_fmadd_ps(x, _mm256_loadu_ps(y), acc); }
static inline DotVec DotLoad(const float* x) { return _mm256_loadu_ps(x); }
static inline void DotStore(float* out, DotVec v) { _mm256_storeu_ps(out, v); }
#else
typedef V8 DotVec;
constexpr int64_t kDotW = 8;
static inline DotVec DotZero() { return V8{}; }
static inline DotVec DotLoad(const float* x) { V8 v; std::memcpy(&v, x, 32); return v; }
static inline DotVec DotFmaV(DotVec x, const float* y, DotVec acc) { return acc + x * DotLoad(y); }
static inline DotVec DotFma(const float* x, const float* y, DotVec acc) { return DotFmaV(DotLoad(x), y, acc); }
static inline void DotStore(float* out, DotVec v) { std::memcpy(out, &v, 32); }
#endif

// The lanes added in index order, then the tail k in [kv, K) in order.
static inline float DotFinish(DotVec acc, const float* x, const float* y, int64_t kv, int64_t K) {
  alignas(64) float lanes[kDotW];
  DotStore(lanes, acc);
  float sum = 0.f;
  for (int64_t l = 0; l < kDotW; ++l) sum += lanes[l];
  for (int64_t k = kv; k < K; ++k) sum += x[k] * y[k];
  return sum;
}

// out[j] = dot(x, y_j) for four rows y_0..y_3 at once (x loaded once per k step); the same order
// per element as one at a time.
static inline void Dot4(const float* x, const float* y0, const float* y1, const float* y2, const float* y3, int64_t K,
                        float* out, int64_t stride) {
  DotVec a0 = DotZero(), a1 = DotZero(), a2 = DotZero(), a3 = DotZero();
  int64_t k = 0;
  for (; k + kDotW <= K; k += kDotW) {
    const DotVec xv = DotLoad(x + k);
    a0 = DotFmaV(xv, y0 + k, a0), a1 = DotFmaV(xv, y1 + k, a1), a2 = DotFmaV(xv, y2 + k, a2), a3 = DotFmaV(xv, y3 + k, a3);
  }
  out[0] = DotFinish(a0, x, y0, k, K), out[stride] = DotFinish(a1, x, y1, k, K);
  out[2 * stride] = DotFinish(a2, x, y2, k, K), out[3 * stride] = DotFinish(a3, x, y3, k, K);
}

static inline float DotRow(const float* x, const float* y, int64_t K) {
  DotVec acc = DotZero();
  int64_t k = 0;
  for (; k + kDotW <= K; k += kDotW) acc = DotFma(x + k, y + k, acc);
  return DotFinish(acc, x, y, k, K);
}

// C[r0:r1, c0:c1] = A B^T over that block, by DotRow (A: M x K row-major, B: N x K row-major).
inline void DotBlock(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t K,
                     int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  int64_t col = c0;
  for (; col + 4 <= c1; col += 4) {  // four rows of B, read once, used for every row of A
    const float* y = b + col * ldb;
    for (int64_t r = r0; r < r1; ++r) Dot4(a + r * lda, y, y + ldb, y + 2 * ldb, y + 3 * ldb, K, c + r * ldc + col, 1);
  }
  for (; col < c1; ++col)
    for (int64_t r = r0; r < r1; ++r) c[r * ldc + col] = DotRow(a + r * lda, b + col * ldb, K);
}

// C[r0:r1, c0:c1] = op(A) op(B) over that block (alpha 1, beta 0). Rows and columns outside the
// block are neither read nor written; each element is computed as the header says.
inline void GemmBlock(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float* c, int64_t ldc, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  if (r1 <= r0 || c1 <= c0) return;
  if (K == 0) {
    for (int64_t r = r0; r < r1; ++r) std::fill(c + r * ldc + c0, c + r * ldc + c1, 0.f);
    return;
  }
  if (!ta && tb && M <= kDotRows && N * K >= kDotMinB) {  // by the whole GEMM's shape: every part agrees
    DotBlock(a, lda, b, ldb, c, ldc, K, r0, r1, c0, c1);
    return;
  }
  const int64_t kcMax = std::min(K, KC);
  const int64_t panels = (c1 - c0 + NR - 1) / NR;
  thread_local std::vector<float> bufB, bufA;
  bufB.resize(static_cast<size_t>(panels * kcMax * NR));
  bufA.resize(static_cast<size_t>(kcMax * MR));
  alignas(64) float tile[MR * NR];
  // Full MR-row tiles read op(A) in place (no packing: its rows, or for A^T its k-major columns, are
  // what the micro-kernel walks); a last tile of fewer rows is packed, zero-padded, into bufA.
  const auto kernel = [&](int64_t r, int64_t rows, int64_t k0, int64_t kc, const float* pb, float* out, int64_t ldo, bool first) {
    if (rows < MR) MicroKernel<true>(kc, bufA.data(), MR, pb, out, ldo, first);
    else if (ta) MicroKernel<true>(kc, a + k0 * lda + r, lda, pb, out, ldo, first);
    else MicroKernel<false>(kc, a + r * lda + k0, lda, pb, out, ldo, first);
  };
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    const bool first = k0 == 0;
    for (int64_t p = 0; p < panels; ++p) PackB(b, ldb, tb, c0 + p * NR, c1, k0, kc, bufB.data() + p * kc * NR);
    for (int64_t m0 = r0; m0 < r1; m0 += MC) {
      const int64_t m1 = std::min(r1, m0 + MC);
      if ((m1 - m0) % MR != 0) PackA(a, lda, ta, m1 - (m1 - m0) % MR, m1, k0, kc, bufA.data());
      for (int64_t p = 0; p < panels; ++p) {  // a B micro-panel stays in L1 across the A tiles
        const int64_t cs = c0 + p * NR;
        const int64_t cols = std::min(NR, c1 - cs);
        const float* pb = bufB.data() + p * kc * NR;
        for (int64_t r = m0; r < m1; r += MR) {
          const int64_t rows = std::min(MR, m1 - r);
          float* cTile = c + r * ldc + cs;
          if (rows == MR && cols == NR) {
            kernel(r, rows, k0, kc, pb, cTile, ldc, first);
            continue;
          }
          if (!first) {
            for (int64_t i = 0; i < rows; ++i) std::memcpy(tile + i * NR, cTile + i * ldc, cols * sizeof(float));
          }
          kernel(r, rows, k0, kc, pb, tile, NR, first);
          for (int64_t i = 0; i < rows; ++i) std::memcpy(cTile + i * ldc, tile + i * NR, cols * sizeof(float));
        }
      }
    }
  }
}

}  // namespace duet_gemm
