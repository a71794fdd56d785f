// duet_blas: a small N-API addon that runs OpenBLAS cblas_sgemm (and a few fused loops) directly
// on the tfjs-backend-wasm heap. The heap is the wasm Memory's ArrayBuffer; every offset is in
// float32 elements from its start. Nothing is copied: tfjs tensors are contiguous row-major
// buffers inside that ArrayBuffer, so a batched matmul is cblas_sgemm with element offsets.
//
// Built by scripts/build-addon.mjs (g++ -O3 ... -lopenblas); optional at runtime.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

// Declared here rather than through <cblas.h>: the header on a machine may come from another
// BLAS (the Debian alternatives link), while these symbols are OpenBLAS's own ABI.
extern "C" {
void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace {

constexpr int kRowMajor = 101;
constexpr int kNoTrans = 111;
constexpr int kTrans = 112;

int g_threads = 1;                  // threads for large GEMMs
double g_small_flops = 2.0e6;       // M*N*K at or below this runs on one thread

struct Heap {
  float* data;
  size_t length;  // in floats
};

Heap GetHeap(const Napi::Value& v) {
  if (!v.IsArrayBuffer()) {
    throw Napi::TypeError::New(v.Env(), "duet_blas: heap must be an ArrayBuffer");
  }
  Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
  return Heap{static_cast<float*>(ab.Data()), ab.ByteLength() / 4};
}

int64_t Int(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}
double Num(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}

void CheckRange(const Napi::Env& env, const Heap& h, int64_t off, int64_t extent, const char* what) {
  if (off < 0 || extent < 0 || static_cast<uint64_t>(off + extent) > h.length) {
    throw Napi::RangeError::New(env, std::string("duet_blas: ") + what + " lies outside the heap");
  }
}

// Elements spanned by a row-major rows x cols matrix with leading dimension ld.
int64_t Extent(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

// Thread choice per GEMM size class (floor(log2(M*N*K))). Whether a second thread pays depends
// on the size and on how loaded the machine is (these machines are shared): on an idle 2-core box
// 2 threads nearly double a 1024^3 GEMM, under load they can make it several times slower. So each
// class keeps an exponential average of seconds per M*N*K for 1 and for `g_threads` threads, runs
// the faster, and re-tries the other after `interval` calls; a re-try that loses doubles the
// interval (up to 4096 calls), one that wins resets it to 16, so a losing option costs little.
// Below g_small_flops one thread always (threads never pay there).
struct ThreadStats {
  double ema[2] = {0, 0};
  int64_t n[2] = {0, 0};
  int64_t calls = 0;
  int64_t interval = 16;
  int best = 0;
};
ThreadStats g_stats[64];

ThreadStats& StatsFor(double mnk) { return g_stats[std::min(63, std::max(0, static_cast<int>(std::log2(mnk))))]; }

int ChooseSlot(double mnk) {
  if (g_threads <= 1 || mnk <= g_small_flops) return 0;
  ThreadStats& s = StatsFor(mnk);
  if (s.n[0] < 2) return 0;
  if (s.n[1] < 2) return 1;
  if (++s.calls >= s.interval) {
    s.calls = 0;
    return 1 - s.best;  // re-try the other
  }
  return s.best;
}

void Record(double mnk, int slot, double seconds) {
  if (g_threads <= 1 || mnk <= g_small_flops) return;
  ThreadStats& s = StatsFor(mnk);
  const double x = seconds / mnk;
  s.ema[slot] = s.n[slot] == 0 ? x : 0.75 * s.ema[slot] + 0.25 * x;
  ++s.n[slot];
  if (s.n[0] < 2 || s.n[1] < 2) return;
  const int best = s.ema[0] <= s.ema[1] ? 0 : 1;
  if (slot != s.best) s.interval = best == slot ? 16 : std::min<int64_t>(4096, s.interval * 2);
  s.best = best;
}

void WithThreads(double mnk, int batch, const std::function<void()>& f) {
  const int slot = ChooseSlot(mnk);
  const int want = slot == 0 ? 1 : g_threads;
  if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Record(mnk, slot, dt / std::max(1, batch));
}

// sgemm(heap, transA, transB, M, N, K, alpha, beta, batch,
//       aOff, aStride, lda, bOff, bStride, ldb, cOff, cStride, ldc)
// C_i = alpha op(A_i) op(B_i) + beta C_i for i < batch, X_i at xOff + i * xStride (row-major).
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 18) throw Napi::TypeError::New(env, "duet_blas.sgemm: expected 18 arguments");
  Heap h = GetHeap(info[0]);
  bool ta = info[1].ToBoolean(), tb = info[2].ToBoolean();
  int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5);
  float alpha = static_cast<float>(Num(info, 6)), beta = static_cast<float>(Num(info, 7));
  int64_t batch = Int(info, 8);
  int64_t aOff = Int(info, 9), aStride = Int(info, 10), lda = Int(info, 11);
  int64_t bOff = Int(info, 12), bStride = Int(info, 13), ldb = Int(info, 14);
  int64_t cOff = Int(info, 15), cStride = Int(info, 16), ldc = Int(info, 17);
  if (M < 0 || N < 0 || K < 0 || batch < 0 || aStride < 0 || bStride < 0 || cStride < 0) {
    throw Napi::RangeError::New(env, "duet_blas.sgemm: negative size or stride");
  }
  if (batch == 0 || M == 0 || N == 0) return env.Undefined();
  int64_t aExt = ta ? Extent(K, M, lda) : Extent(M, K, lda);
  int64_t bExt = tb ? Extent(N, K, ldb) : Extent(K, N, ldb);
  int64_t cExt = Extent(M, N, ldc);
  CheckRange(env, h, aOff, aStride * (batch - 1) + aExt, "A");
  CheckRange(env, h, bOff, bStride * (batch - 1) + bExt, "B");
  CheckRange(env, h, cOff, cStride * (batch - 1) + cExt, "C");
  WithThreads(static_cast<double>(M) * N * K, static_cast<int>(batch), [&] {
    for (int64_t i = 0; i < batch; ++i) {
      if (K == 0) {
        float* c = h.data + cOff + i * cStride;
        for (int64_t r = 0; r < M; ++r)
          for (int64_t col = 0; col < N; ++col) c[r * ldc + col] = beta == 0.f ? 0.f : beta * c[r * ldc + col];
        continue;
      }
      cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, static_cast<int>(M),
                  static_cast<int>(N), static_cast<int>(K), alpha, h.data + aOff + i * aStride,
                  static_cast<int>(lda), h.data + bOff + i * bStride, static_cast<int>(ldb), beta,
                  h.data + cOff + i * cStride, static_cast<int>(ldc));
    }
  });
  return env.Undefined();
}

// sgemmOffsets(heap, transA, transB, M, N, K, alpha, beta, aOffs, lda, bOffs, ldb, cOffs, ldc)
// The same with one offset per batch entry (Int32Array each): any broadcast of batch dims.
Napi::Value SgemmOffsets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 14) throw Napi::TypeError::New(env, "duet_blas.sgemmOffsets: expected 14 arguments");
  Heap h = GetHeap(info[0]);
  bool ta = info[1].ToBoolean(), tb = info[2].ToBoolean();
  int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5);
  float alpha = static_cast<float>(Num(info, 6)), beta = static_cast<float>(Num(info, 7));
  Napi::Int32Array aOffs = info[8].As<Napi::Int32Array>();
  int64_t lda = Int(info, 9);
  Napi::Int32Array bOffs = info[10].As<Napi::Int32Array>();
  int64_t ldb = Int(info, 11);
  Napi::Int32Array cOffs = info[12].As<Napi::Int32Array>();
  int64_t ldc = Int(info, 13);
  size_t batch = aOffs.ElementLength();
  if (bOffs.ElementLength() != batch || cOffs.ElementLength() != batch) {
    throw Napi::RangeError::New(env, "duet_blas.sgemmOffsets: offset arrays differ in length");
  }
  if (M <= 0 || N <= 0 || K <= 0) throw Napi::RangeError::New(env, "duet_blas.sgemmOffsets: empty GEMM");
  int64_t aExt = ta ? Extent(K, M, lda) : Extent(M, K, lda);
  int64_t bExt = tb ? Extent(N, K, ldb) : Extent(K, N, ldb);
  int64_t cExt = Extent(M, N, ldc);
  for (size_t i = 0; i < batch; ++i) {
    CheckRange(env, h, aOffs[i], aExt, "A");
    CheckRange(env, h, bOffs[i], bExt, "B");
    CheckRange(env, h, cOffs[i], cExt, "C");
  }
  WithThreads(static_cast<double>(M) * N * K, static_cast<int>(batch), [&] {
    for (size_t i = 0; i < batch; ++i) {
      cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, static_cast<int>(M),
                  static_cast<int>(N), static_cast<int>(K), alpha, h.data + aOffs[i], static_cast<int>(lda),
                  h.data + bOffs[i], static_cast<int>(ldb), beta, h.data + cOffs[i], static_cast<int>(ldc));
    }
  });
  return env.Undefined();
}


// ---------------------------------------------------------------------------------------------
// Fused elementwise / row kernels. Written as plain loops the compiler vectorises: the addon is
// built on the machine that runs it, with -march=native (scripts/build-addon.mjs), with
// -fno-trapping-math so the clamps and selects if-convert into vector blends, and -fopenmp-simd so
// the `omp simd reduction` loops vectorise (reassociating those sums only; no OpenMP runtime).
#define DUET_CLONES

// exp(x) for float, vectorisable: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), then
// exp(r) by the Cephes expf polynomial (degree 6; relative error < 2^-22 on the reduced range),
// times 2^k built in the exponent bits. Inputs clamped to [-87.3, 88.3] (no inf, no denormals).
static inline float ExpF(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float kf = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
  float r = x - kf * 0.693359375f;
  r = r + kf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(kf) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// GELU as y = x * sigmoid(a(x)):
//   form 0 (sigmoid): a = 1.702 x                         (Hendrycks & Gimpel 2016, sec. 2)
//   form 1 (tanh):    a = 2 sqrt(2/pi) (x + 0.044715 x^3)  (the same paper; 0.5 (1 + tanh z) = sigmoid(2 z))
// dy/dx = s + x s (1 - s) a'(x), s = sigmoid(a(x)).
constexpr float kSig = 1.702f;
constexpr float kTanh2 = 1.5957691216057308f;  // 2 sqrt(2/pi)
constexpr float kCubic = 0.044715f;

DUET_CLONES static void GeluLoop(const float* x, float* y, int64_t n, int form) {
  if (form == 0) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + ExpF(-kSig * x[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      y[i] = v / (1.0f + ExpF(-kTanh2 * (v + kCubic * v * v * v)));
    }
  }
}

DUET_CLONES static void GeluGradLoop(const float* dy, const float* x, float* dx, int64_t n, int form) {
  if (form == 0) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const float s = 1.0f / (1.0f + ExpF(-kSig * v));
      dx[i] = dy[i] * (s + v * s * (1.0f - s) * kSig);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const float s = 1.0f / (1.0f + ExpF(-kTanh2 * (v + kCubic * v * v * v)));
      dx[i] = dy[i] * (s + v * s * (1.0f - s) * kTanh2 * (1.0f + 3.0f * kCubic * v * v));
    }
  }
}

// gelu(heap, xOff, yOff, n, form)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t xo = Int(info, 1), yo = Int(info, 2), n = Int(info, 3);
  int form = static_cast<int>(Int(info, 4));
  CheckRange(env, h, xo, n, "x");
  CheckRange(env, h, yo, n, "y");
  GeluLoop(h.data + xo, h.data + yo, n, form);
  return env.Undefined();
}

// geluGrad(heap, dyOff, xOff, dxOff, n, form)
Napi::Value GeluGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t dyo = Int(info, 1), xo = Int(info, 2), dxo = Int(info, 3), n = Int(info, 4);
  int form = static_cast<int>(Int(info, 5));
  CheckRange(env, h, dyo, n, "dy");
  CheckRange(env, h, xo, n, "x");
  CheckRange(env, h, dxo, n, "dx");
  GeluGradLoop(h.data + dyo, h.data + xo, h.data + dxo, n, form);
  return env.Undefined();
}

// LayerNorm over the last axis (Ba et al. 2016), biased variance as torch.nn.LayerNorm:
//   y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps).
// Row statistics in double. Backward (per row, xhat = (x - mean) rstd, g = dy * gamma):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dgamma = sum_rows dy xhat,  dbeta = sum_rows dy.
DUET_CLONES static void LayerNormRows(const float* x, const float* gamma, const float* beta, float* y, int64_t rows,
                                      int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const double mean = sum / cols;
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < cols; ++c) {
      const double d = xr[c] - mean;
      sq += d * d;
    }
    const float rstd = static_cast<float>(1.0 / std::sqrt(sq / cols + eps));
    const float m = static_cast<float>(mean);
    if (beta != nullptr) {
      for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rstd * gamma[c] + beta[c];
    } else {
      for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * rstd * gamma[c];
    }
  }
}

DUET_CLONES static void LayerNormGradRows(const float* dy, const float* x, const float* gamma, float* dx, double* dg,
                                          double* db, int64_t rows, int64_t cols, float eps, float* scratch) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const double mean = sum / cols;
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < cols; ++c) {
      const double d = xr[c] - mean;
      sq += d * d;
    }
    const float rstd = static_cast<float>(1.0 / std::sqrt(sq / cols + eps));
    const float m = static_cast<float>(mean);
    double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - m) * rstd;
      const float g = dyr[c] * gamma[c];
      scratch[c] = xhat;
      sg += g;
      sgx += static_cast<double>(g) * xhat;
      dg[c] += static_cast<double>(dyr[c]) * xhat;
      db[c] += dyr[c];
    }
    const float mg = static_cast<float>(sg / cols), mgx = static_cast<float>(sgx / cols);
    for (int64_t c = 0; c < cols; ++c) dxr[c] = rstd * (dyr[c] * gamma[c] - mg - scratch[c] * mgx);
  }
}

// layerNorm(heap, xOff, gammaOff, betaOff (-1: none), yOff, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t xo = Int(info, 1), go = Int(info, 2), bo = Int(info, 3), yo = Int(info, 4);
  int64_t rows = Int(info, 5), cols = Int(info, 6);
  float eps = static_cast<float>(Num(info, 7));
  if (rows < 0 || cols <= 0) throw Napi::RangeError::New(env, "duet_blas.layerNorm: bad shape");
  CheckRange(env, h, xo, rows * cols, "x");
  CheckRange(env, h, yo, rows * cols, "y");
  CheckRange(env, h, go, cols, "gamma");
  if (bo >= 0) CheckRange(env, h, bo, cols, "beta");
  LayerNormRows(h.data + xo, h.data + go, bo >= 0 ? h.data + bo : nullptr, h.data + yo, rows, cols, eps);
  return env.Undefined();
}

// layerNormGrad(heap, dyOff, xOff, gammaOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps)
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t dyo = Int(info, 1), xo = Int(info, 2), go = Int(info, 3), dxo = Int(info, 4), dgo = Int(info, 5),
          dbo = Int(info, 6);
  int64_t rows = Int(info, 7), cols = Int(info, 8);
  float eps = static_cast<float>(Num(info, 9));
  if (rows < 0 || cols <= 0) throw Napi::RangeError::New(env, "duet_blas.layerNormGrad: bad shape");
  CheckRange(env, h, dyo, rows * cols, "dy");
  CheckRange(env, h, xo, rows * cols, "x");
  CheckRange(env, h, dxo, rows * cols, "dx");
  CheckRange(env, h, go, cols, "gamma");
  CheckRange(env, h, dgo, cols, "dgamma");
  CheckRange(env, h, dbo, cols, "dbeta");
  std::vector<double> dg(cols, 0.0), db(cols, 0.0);
  std::vector<float> scratch(cols);
  LayerNormGradRows(h.data + dyo, h.data + xo, h.data + go, h.data + dxo, dg.data(), db.data(), rows, cols, eps,
                    scratch.data());
  for (int64_t c = 0; c < cols; ++c) {
    h.data[dgo + c] = static_cast<float>(dg[c]);
    h.data[dbo + c] = static_cast<float>(db[c]);
  }
  return env.Undefined();
}

// One decode step of attention over a preallocated KV cache (Vaswani et al. 2017, eq. 1):
// for each of N rows (cache row rows[i]) and head h, store k, v at `position`, then
//   out = softmax(scale * q K[0..position]^T) V[0..position].
// q, k, v, out are (N, H*hd) on the heap; the caches are (B, H, capacity, hd) Float32Arrays.
DUET_CLONES static void DecodeAttentionLoop(const float* q, const float* k, const float* v, float* out,
                                            const int32_t* rows, int64_t n, int64_t position, float* kc, float* vc,
                                            int64_t H, int64_t cap, int64_t hd, float scale, float* scores) {
  // Memory-bound: each (row, head) streams its K then its V block, short runs the hardware
  // prefetcher restarts on. So while scoring against K, prefetch this head's V; while summing V,
  // prefetch the next head's K (cache lines are 16 floats).
  const int64_t C = H * hd;
  const int64_t total_heads = n * H;
  for (int64_t j = 0; j < total_heads; ++j) {
    const int64_t i = j / H, hh = j % H;
    const int64_t b = rows[i];
    float* K = kc + (b * H + hh) * cap * hd;
    float* V = vc + (b * H + hh) * cap * hd;
    const float* Kn = nullptr;
    if (j + 1 < total_heads) Kn = kc + (rows[(j + 1) / H] * H + (j + 1) % H) * cap * hd;
    const float* qi = q + i * C + hh * hd;
    std::memcpy(K + position * hd, k + i * C + hh * hd, hd * sizeof(float));
    std::memcpy(V + position * hd, v + i * C + hh * hd, hd * sizeof(float));
    float mx = -3.4e38f;
    for (int64_t t = 0; t <= position; ++t) {
      for (int64_t l = 0; l < hd; l += 16) __builtin_prefetch(V + t * hd + l);
      float s = 0;
      const float* kt = K + t * hd;
#pragma omp simd reduction(+ : s)
      for (int64_t d = 0; d < hd; ++d) s += qi[d] * kt[d];
      s *= scale;
      scores[t] = s;
      mx = s > mx ? s : mx;
    }
    float total = 0;
    for (int64_t t = 0; t <= position; ++t) {
      scores[t] = ExpF(scores[t] - mx);
      total += scores[t];
    }
    const float inv = 1.0f / total;
    float* o = out + i * C + hh * hd;
    for (int64_t d = 0; d < hd; ++d) o[d] = 0;
    for (int64_t t = 0; t <= position; ++t) {
      if (Kn != nullptr) {
        for (int64_t l = 0; l < hd; l += 16) __builtin_prefetch(Kn + t * hd + l);
      }
      const float p = scores[t] * inv;
      for (int64_t d = 0; d < hd; ++d) o[d] += p * V[t * hd + d];
    }
  }
}

// decodeAttention(heap, qOff, kOff, vOff, outOff, rows Int32Array, position, kCache, vCache,
//                 batch, H, capacity, hd, scale)
Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 14) throw Napi::TypeError::New(env, "duet_blas.decodeAttention: expected 14 arguments");
  Heap h = GetHeap(info[0]);
  int64_t qo = Int(info, 1), ko = Int(info, 2), vo = Int(info, 3), oo = Int(info, 4);
  Napi::Int32Array rows = info[5].As<Napi::Int32Array>();
  int64_t position = Int(info, 6);
  Napi::Float32Array kc = info[7].As<Napi::Float32Array>();
  Napi::Float32Array vc = info[8].As<Napi::Float32Array>();
  int64_t batch = Int(info, 9), H = Int(info, 10), cap = Int(info, 11), hd = Int(info, 12);
  float scale = static_cast<float>(Num(info, 13));
  const int64_t n = static_cast<int64_t>(rows.ElementLength());
  const int64_t C = H * hd;
  if (position < 0 || position >= cap) throw Napi::RangeError::New(env, "duet_blas.decodeAttention: position outside the cache");
  if (static_cast<int64_t>(kc.ElementLength()) != batch * H * cap * hd ||
      static_cast<int64_t>(vc.ElementLength()) != batch * H * cap * hd) {
    throw Napi::RangeError::New(env, "duet_blas.decodeAttention: cache size mismatch");
  }
  for (int64_t i = 0; i < n; ++i) {
    const int32_t r = rows[static_cast<size_t>(i)];
    if (r < 0 || r >= batch) throw Napi::RangeError::New(env, "duet_blas.decodeAttention: row outside the batch");
  }
  CheckRange(env, h, qo, n * C, "q");
  CheckRange(env, h, ko, n * C, "k");
  CheckRange(env, h, vo, n * C, "v");
  CheckRange(env, h, oo, n * C, "out");
  std::vector<float> scores(position + 1);
  DecodeAttentionLoop(h.data + qo, h.data + ko, h.data + vo, h.data + oo, rows.Data(), n, position, kc.Data(), vc.Data(),
                      H, cap, hd, scale, scores.data());
  return env.Undefined();
}


// sumRows(heap, xOff, outOff, outer, mid, inner): out[o, i] = sum_m x[o, m, i] (float64 accumulators),
// i.e. a sum over a contiguous block of axes that is not innermost.
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t xo = Int(info, 1), oo = Int(info, 2), outer = Int(info, 3), mid = Int(info, 4), inner = Int(info, 5);
  if (outer < 0 || mid < 0 || inner < 0) throw Napi::RangeError::New(env, "duet_blas.sumRows: negative size");
  CheckRange(env, h, xo, outer * mid * inner, "x");
  CheckRange(env, h, oo, outer * inner, "out");
  std::vector<double> acc(inner);
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const float* x = h.data + xo + o * mid * inner;
    for (int64_t m = 0; m < mid; ++m)
      for (int64_t i = 0; i < inner; ++i) acc[i] += x[m * inner + i];
    float* out = h.data + oo + o * inner;
    for (int64_t i = 0; i < inner; ++i) out[i] = static_cast<float>(acc[i]);
  }
  return env.Undefined();
}

// sumSquares(heap, offsets Int32Array, sizes Int32Array) -> sum of x^2 over all the ranges (float64).
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  Napi::Int32Array offs = info[1].As<Napi::Int32Array>();
  Napi::Int32Array sizes = info[2].As<Napi::Int32Array>();
  if (offs.ElementLength() != sizes.ElementLength()) throw Napi::RangeError::New(env, "duet_blas.sumSquares: length mismatch");
  double total = 0;
  for (size_t k = 0; k < offs.ElementLength(); ++k) {
    CheckRange(env, h, offs[k], sizes[k], "x");
    const float* x = h.data + offs[k];
    double acc = 0;
    const int64_t n = sizes[k];
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * x[i];
    total += acc;
  }
  return Napi::Number::New(env, total);
}

// adamW(heap, n, gOff, pOff, mOff, vOff, pOut, mOut, vOut, scale, b1, b2, keep, stepSize, bc2, eps):
// torch.optim.AdamW on one parameter with g = scale * grad (clipping), in double per element:
//   m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p = keep p - stepSize m / (sqrt(v) / bc2 + eps)
// keep = 1 - lr wd (or 1), stepSize = lr / (1 - b1^t), bc2 = sqrt(1 - b2^t). Outputs may alias inputs.
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 16) throw Napi::TypeError::New(env, "duet_blas.adamW: expected 16 arguments");
  Heap h = GetHeap(info[0]);
  int64_t n = Int(info, 1);
  int64_t go = Int(info, 2), po = Int(info, 3), mo = Int(info, 4), vo = Int(info, 5);
  int64_t pt = Int(info, 6), mt = Int(info, 7), vt = Int(info, 8);
  double scale = Num(info, 9), b1 = Num(info, 10), b2 = Num(info, 11), keep = Num(info, 12), step = Num(info, 13),
         bc2 = Num(info, 14), eps = Num(info, 15);
  for (int64_t off : {go, po, mo, vo, pt, mt, vt}) CheckRange(env, h, off, n, "AdamW buffer");
  float* d = h.data;
  for (int64_t i = 0; i < n; ++i) {
    const double g = d[go + i] * scale;
    const double m = b1 * d[mo + i] + (1 - b1) * g;
    const double v = b2 * d[vo + i] + (1 - b2) * g * g;
    const double p = d[po + i] * keep - step * m / (std::sqrt(v) / bc2 + eps);
    d[mt + i] = static_cast<float>(m);
    d[vt + i] = static_cast<float>(v);
    d[pt + i] = static_cast<float>(p);
  }
  return env.Undefined();
}


// segmentSum(heap, xOff, idsOff, outOff, n, inner, numSegments): float32 UnsortedSegmentSum,
// out[s] = sum of x[i] (rows of `inner`) over i with ids[i] = s; ids outside [0, numSegments) dropped.
Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t xo = Int(info, 1), io = Int(info, 2), oo = Int(info, 3), n = Int(info, 4), inner = Int(info, 5),
          segs = Int(info, 6);
  if (n < 0 || inner < 0 || segs < 0) throw Napi::RangeError::New(env, "duet_blas.segmentSum: negative size");
  CheckRange(env, h, xo, n * inner, "x");
  CheckRange(env, h, io, n, "segmentIds");
  CheckRange(env, h, oo, segs * inner, "out");
  const int32_t* ids = reinterpret_cast<const int32_t*>(h.data + io);
  float* out = h.data + oo;
  std::fill(out, out + segs * inner, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = ids[i];
    if (s < 0 || s >= segs) continue;
    const float* x = h.data + xo + i * inner;
    float* o = out + s * inner;
    for (int64_t j = 0; j < inner; ++j) o[j] += x[j];
  }
  return env.Undefined();
}


// softmaxGrad(heap, dyOff, yOff, dxOff, rows, cols): gradient of y = softmax(x) over the last axis,
// dx = y * (dy - sum_j dy_j y_j) per row (the sum in double).
Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t dyo = Int(info, 1), yo = Int(info, 2), dxo = Int(info, 3), rows = Int(info, 4), cols = Int(info, 5);
  if (rows < 0 || cols < 0) throw Napi::RangeError::New(env, "duet_blas.softmaxGrad: negative size");
  CheckRange(env, h, dyo, rows * cols, "dy");
  CheckRange(env, h, yo, rows * cols, "y");
  CheckRange(env, h, dxo, rows * cols, "dx");
  for (int64_t r = 0; r < rows; ++r) {
    const float* dy = h.data + dyo + r * cols;
    const float* y = h.data + yo + r * cols;
    float* dx = h.data + dxo + r * cols;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(dy[c]) * y[c];
    const float sf = static_cast<float>(s);
    for (int64_t c = 0; c < cols; ++c) dx[c] = y[c] * (dy[c] - sf);
  }
  return env.Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = static_cast<int>(Int(info, 0));
  if (n < 1) throw Napi::RangeError::New(info.Env(), "duet_blas.setThreads: threads must be >= 1");
  g_threads = n;
  if (info.Length() > 1 && info[1].IsNumber()) g_small_flops = Num(info, 1);
  for (auto& st : g_stats) st = ThreadStats{};
  openblas_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g_threads); }

Napi::Value Config(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), openblas_get_config());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("sgemmOffsets", Napi::Function::New(env, SgemmOffsets));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
  exports.Set("adamW", Napi::Function::New(env, AdamW));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGrad));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("config", Napi::Function::New(env, Config));
  g_threads = openblas_get_num_threads();
  return exports;
}

}  // namespace

NODE_API_MODULE(duet_blas, Init)
