// duet_blas: a small N-API addon that runs a GEMM (and a few fused loops) directly on the
// tfjs-backend-wasm heap. The heap is the wasm Memory's ArrayBuffer; every offset is in float32
// elements from its start. Nothing is copied: tfjs tensors are contiguous row-major buffers inside
// that ArrayBuffer, so a batched matmul is a GEMM with element offsets.
//
// Built twice by scripts/build-addon.mjs (g++ -O3 -march=native ...), both optional at runtime:
//   build/duet_blas.node    the GEMM is OpenBLAS's cblas_sgemm (-lopenblas)
//   build/duet_native.node  the GEMM is duet's own (duet_gemm.h, -DDUET_OWN_GEMM): no system library
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <string>
#include <vector>

#ifdef DUET_OWN_GEMM
#include "duet_gemm.h"
#else
// Declared here rather than through <cblas.h>: the header on a machine may come from another
// BLAS (the Debian alternatives link), while these symbols are OpenBLAS's own ABI.
extern "C" {
void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
}
#endif

namespace {

#ifndef DUET_OWN_GEMM
constexpr int kRowMajor = 101;
constexpr int kNoTrans = 111;
constexpr int kTrans = 112;
#endif

int g_threads = 1;                  // threads for large GEMMs (the caller's thread included)
double g_small_flops = 2.0e6;       // batch*M*N*K below this runs on one thread

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

// ---------------------------------------------------------------------------------------------
// Threads. A GEMM's work is split by a rule on its shape alone (never on timing), into parts
// that each compute whole C elements: whole batch entries, or a range of C's rows or columns.
// A C element's summation order then does not depend on the thread count, so results are
// bit-identical with 1 or more threads (tests check it on both GEMMs).
//
// The pool: g_threads - 1 workers. A job is a number of parts fixed by the caller (from the
// shape); the caller and the awake workers take parts one at a time until none is left, so a
// worker that is slow to start (its core busy with another process) delays nothing: the caller
// does its parts. Who computes a part does not change the part, so the bits do not change either.
// A worker spins briefly after a job (GEMMs of one step come back to back), then sleeps on a
// condition variable.
class Pool {
 public:
  void Resize(int threads) {
    const int want = std::max(0, threads - 1);
    while (static_cast<int>(workers_.size()) < want) {
      const int index = static_cast<int>(workers_.size()) + 1;
      const uint64_t seen = generation_.load(std::memory_order_acquire);  // before the thread starts
      workers_.emplace_back([this, index, seen] { Loop(index, seen); });
      workers_.back().detach();  // lives as long as the process
    }
    active_ = want;
  }

  // f(part) for part in [0, parts), each exactly once, on the caller and the active workers.
  // Returns when all are done.
  void Run(int parts, const std::function<void(int)>& f) {
    if (parts <= 1 || active_ == 0) {
      for (int p = 0; p < parts; ++p) f(p);
      return;
    }
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen = generation_.load(std::memory_order_relaxed) + 1;
      job_ = &f;
      parts_ = parts;
      helpers_ = std::min(active_, parts - 1);
      done_.store(0, std::memory_order_relaxed);
      ticket_.store(gen << 32, std::memory_order_relaxed);
      generation_.store(gen, std::memory_order_release);
    }
    cv_.notify_all();
    int mine = Work(gen, parts, f);
    if (mine < parts) {
      while (done_.load(std::memory_order_acquire) != parts) std::this_thread::yield();
    }
  }

 private:
  // Takes parts of job `gen` until none is left (or the job is no longer current); returns the
  // number done in all (done_ after this call's last part).
  int Work(uint64_t gen, int parts, const std::function<void(int)>& f) {
    int doneNow = 0;
    for (;;) {
      uint64_t t = ticket_.load(std::memory_order_acquire);
      int p;
      do {
        if ((t >> 32) != gen) return doneNow;
        p = static_cast<int>(t & 0xffffffffu);
        if (p >= parts) return doneNow;
      } while (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire));
      f(p);
      doneNow = done_.fetch_add(1, std::memory_order_acq_rel) + 1;
    }
  }

  void Loop(int index, uint64_t seen) {
    for (;;) {
      // Spin a little (the next GEMM usually follows within microseconds), then sleep.
      for (int i = 0; i < 20000 && generation_.load(std::memory_order_acquire) == seen; ++i) Relax();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      const std::function<void(int)>* job;
      int parts, helpers;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = generation_.load(std::memory_order_acquire);
        job = job_;
        parts = parts_;
        helpers = helpers_;
      }
      if (index <= helpers) Work(seen, parts, *job);
    }
  }

  static inline void Relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  std::vector<std::thread> workers_;
  int active_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0;
  int helpers_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> ticket_{0};  // generation << 32 | next part
  std::atomic<int> done_{0};
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: its detached workers outlive static teardown
  return *pool;
}

// How many parts a GEMM of this shape is split into: 1 below g_small_flops of work, else two per
// thread (so a thread that starts late leaves its share to the others; see Pool).
int PartsFor(int64_t batch, int64_t M, int64_t N, int64_t K) {
  if (g_threads <= 1) return 1;
  const double work = static_cast<double>(batch) * M * N * K;
  return work < g_small_flops ? 1 : 2 * g_threads;
}

// [begin, end) of part p of n items split into `parts` ranges aligned to `align` (the last
// range takes the rest).
std::pair<int64_t, int64_t> Range(int64_t n, int parts, int p, int64_t align) {
  int64_t chunk = (n + parts - 1) / parts;
  chunk = (chunk + align - 1) / align * align;
  const int64_t b = std::min(n, chunk * p);
  const int64_t e = p == parts - 1 ? n : std::min(n, chunk * (p + 1));
  return {b, e};
}

// C[r0:r1, c0:c1] = alpha op(A) op(B) + beta C over that block, on one thread.
void GemmBlock(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t r0, int64_t r1, int64_t c0,
               int64_t c1) {
  if (r1 <= r0 || c1 <= c0) return;
  if (K == 0) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t col = c0; col < c1; ++col) c[r * ldc + col] = beta == 0.f ? 0.f : beta * c[r * ldc + col];
    return;
  }
#ifdef DUET_OWN_GEMM
  if (alpha == 1.f && beta == 0.f) {
    duet_gemm::GemmBlock(ta, tb, M, N, K, a, lda, b, ldb, c, ldc, r0, r1, c0, c1);
    return;
  }
  const int64_t cols = c1 - c0;
  std::vector<float> t(static_cast<size_t>((r1 - r0) * cols));
  // The block of op(A) op(B) into t (t's row r - r0, column col - c0), then combine.
  duet_gemm::GemmBlock(ta, tb, M, N, K, ta ? a + r0 : a + r0 * lda, lda, tb ? b + c0 * ldb : b + c0, ldb, t.data(),
                       cols, 0, r1 - r0, 0, cols);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t col = c0; col < c1; ++col) {
      const float ab = alpha * t[(r - r0) * cols + (col - c0)];
      c[r * ldc + col] = beta == 0.f ? ab : ab + beta * c[r * ldc + col];
    }
#else
  (void)M, (void)N;
  cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, static_cast<int>(r1 - r0),
              static_cast<int>(c1 - c0), static_cast<int>(K), alpha, ta ? a + r0 : a + r0 * lda, static_cast<int>(lda),
              tb ? b + c0 * ldb : b + c0, static_cast<int>(ldb), beta, c + r0 * ldc + c0, static_cast<int>(ldc));
#endif
}

// Row alignment of a split (OpenBLAS's sgemm kernels tile by 16 or 8 rows / columns; duet's by 6 / 16).
#ifdef DUET_OWN_GEMM
constexpr int64_t kRowAlign = duet_gemm::MR * 4, kColAlign = duet_gemm::NR;
#else
constexpr int64_t kRowAlign = 16, kColAlign = 16;
#endif

// A batch of GEMMs, entry i at (a[i], b[i], c[i]), split into parts by PartsFor.
void GemmBatch(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t batch,
               const std::function<const float*(int64_t)>& aAt, int64_t lda, const std::function<const float*(int64_t)>& bAt,
               int64_t ldb, const std::function<float*(int64_t)>& cAt, int64_t ldc) {
  const int parts = PartsFor(batch, M, N, K);
  if (parts <= 1) {
    for (int64_t i = 0; i < batch; ++i) GemmBlock(ta, tb, M, N, K, alpha, aAt(i), lda, bAt(i), ldb, beta, cAt(i), ldc, 0, M, 0, N);
    return;
  }
  if (batch >= parts) {
    ThePool().Run(parts, [&](int p) {
      const auto [b0, b1] = Range(batch, parts, p, 1);
      for (int64_t i = b0; i < b1; ++i) GemmBlock(ta, tb, M, N, K, alpha, aAt(i), lda, bAt(i), ldb, beta, cAt(i), ldc, 0, M, 0, N);
    });
    return;
  }
  const bool byRows = M >= N;
  for (int64_t i = 0; i < batch; ++i) {
    ThePool().Run(parts, [&](int p) {
      if (byRows) {
        const auto [r0, r1] = Range(M, parts, p, kRowAlign);
        GemmBlock(ta, tb, M, N, K, alpha, aAt(i), lda, bAt(i), ldb, beta, cAt(i), ldc, r0, r1, 0, N);
      } else {
        const auto [c0, c1] = Range(N, parts, p, kColAlign);
        GemmBlock(ta, tb, M, N, K, alpha, aAt(i), lda, bAt(i), ldb, beta, cAt(i), ldc, 0, M, c0, c1);
      }
    });
  }
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
  float* d = h.data;
  GemmBatch(ta, tb, M, N, K, alpha, beta, batch, [&](int64_t i) { return d + aOff + i * aStride; }, lda,
            [&](int64_t i) { return d + bOff + i * bStride; }, ldb, [&](int64_t i) { return d + cOff + i * cStride; }, ldc);
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
  float* d = h.data;
  GemmBatch(ta, tb, M, N, K, alpha, beta, static_cast<int64_t>(batch), [&](int64_t i) { return d + aOffs[static_cast<size_t>(i)]; }, lda,
            [&](int64_t i) { return d + bOffs[static_cast<size_t>(i)]; }, ldb, [&](int64_t i) { return d + cOffs[static_cast<size_t>(i)]; }, ldc);
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
// A call does the (row, head) pairs j0..j1-1 of the N*H; a pair's arithmetic does not depend on
// which call does it, so splitting the pairs over threads gives the same bits.
//
// Memory-bound: each (row, head) streams its K then its V block, short runs the hardware
// prefetcher restarts on. So while scoring against K, prefetch this head's V; while summing V,
// prefetch the next head's K (cache lines are 16 floats).
//
// The head dimension is taken in 16-float vectors (GCC vector extensions): q and the output sum
// stay in registers, and each score is a sum of 16 lane partials in a fixed tree. (A plain loop
// with `omp simd reduction` was compiled into 16 scalar adds per score, with the output sum kept
// in memory: 2-3x slower.) Head dims that are not a multiple of 16 take the plain loop.
typedef float F16 __attribute__((vector_size(64)));
static inline F16 LoadF16(const float* p) {
  F16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline float SumF16(F16 v) {  // lanes l + l+8, then l + l+4, l + l+2, l + l+1
  v += __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3);
  v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1);
  v += __builtin_shufflevector(v, v, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
  return v[0];
}

struct AttentionArgs {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  const int32_t* rows;
  int64_t position;
  float* kc;
  float* vc;
  int64_t H, cap, hd;
  float scale;
};

// Pair j's K and V blocks (its k, v stored at `position`), query, output, and the next pair's K.
struct Pair {
  float* K;
  float* V;
  const float* q;
  float* out;
  const float* nextK;
};
static inline Pair PairOf(const AttentionArgs& a, int64_t j, int64_t j1) {
  const int64_t C = a.H * a.hd, i = j / a.H, hh = j % a.H;
  float* K = a.kc + (a.rows[i] * a.H + hh) * a.cap * a.hd;
  float* V = a.vc + (a.rows[i] * a.H + hh) * a.cap * a.hd;
  std::memcpy(K + a.position * a.hd, a.k + i * C + hh * a.hd, a.hd * sizeof(float));
  std::memcpy(V + a.position * a.hd, a.v + i * C + hh * a.hd, a.hd * sizeof(float));
  const float* nextK = j + 1 < j1 ? a.kc + (a.rows[(j + 1) / a.H] * a.H + (j + 1) % a.H) * a.cap * a.hd : nullptr;
  return {K, V, a.q + i * C + hh * a.hd, a.out + i * C + hh * a.hd, nextK};
}

// scores[0..position] = exp(score - max); returns 1 / their sum.
static inline float Softmax(float* scores, int64_t position, float mx) {
  float total = 0;
  for (int64_t t = 0; t <= position; ++t) {
    scores[t] = ExpF(scores[t] - mx);
    total += scores[t];
  }
  return 1.0f / total;
}

template <int NC>  // hd = 16 * NC
DUET_CLONES static void DecodeAttentionVec(const AttentionArgs& a, float* __restrict scores, int64_t j0, int64_t j1) {
  constexpr int64_t hd = 16 * NC;
  for (int64_t j = j0; j < j1; ++j) {
    const Pair p = PairOf(a, j, j1);
    F16 qv[NC];
    for (int c = 0; c < NC; ++c) qv[c] = LoadF16(p.q + 16 * c) * a.scale;
    float mx = -3.4e38f;
    for (int64_t t = 0; t <= a.position; ++t) {
      const float* kt = p.K + t * hd;
      for (int c = 0; c < NC; ++c) __builtin_prefetch(p.V + t * hd + 16 * c);
      F16 s = qv[0] * LoadF16(kt);
      for (int c = 1; c < NC; ++c) s += qv[c] * LoadF16(kt + 16 * c);
      scores[t] = SumF16(s);
      mx = scores[t] > mx ? scores[t] : mx;
    }
    const float inv = Softmax(scores, a.position, mx);
    F16 acc[NC] = {};
    for (int64_t t = 0; t <= a.position; ++t) {
      if (p.nextK != nullptr)
        for (int c = 0; c < NC; ++c) __builtin_prefetch(p.nextK + t * hd + 16 * c);
      const float* vt = p.V + t * hd;
      for (int c = 0; c < NC; ++c) acc[c] += scores[t] * LoadF16(vt + 16 * c);
    }
    for (int c = 0; c < NC; ++c) {
      const F16 o = acc[c] * inv;
      std::memcpy(p.out + 16 * c, &o, sizeof o);
    }
  }
}

DUET_CLONES static void DecodeAttentionPlain(const AttentionArgs& a, float* __restrict scores, float* __restrict acc,
                                             int64_t j0, int64_t j1) {
  const int64_t hd = a.hd;
  for (int64_t j = j0; j < j1; ++j) {
    const Pair p = PairOf(a, j, j1);
    float mx = -3.4e38f;
    for (int64_t t = 0; t <= a.position; ++t) {
      for (int64_t l = 0; l < hd; l += 16) __builtin_prefetch(p.V + t * hd + l);
      float s = 0;
      const float* kt = p.K + t * hd;
      for (int64_t d = 0; d < hd; ++d) s += p.q[d] * kt[d];
      scores[t] = s * a.scale;
      mx = scores[t] > mx ? scores[t] : mx;
    }
    const float inv = Softmax(scores, a.position, mx);
    for (int64_t d = 0; d < hd; ++d) acc[d] = 0;
    for (int64_t t = 0; t <= a.position; ++t) {
      if (p.nextK != nullptr)
        for (int64_t l = 0; l < hd; l += 16) __builtin_prefetch(p.nextK + t * hd + l);
      const float* vt = p.V + t * hd;
      for (int64_t d = 0; d < hd; ++d) acc[d] += scores[t] * vt[d];
    }
    for (int64_t d = 0; d < hd; ++d) p.out[d] = acc[d] * inv;
  }
}

// `scores` holds position + 1 floats, `acc` hd.
static void DecodeAttentionPairs(const AttentionArgs& a, float* scores, float* acc, int64_t j0, int64_t j1) {
  switch (a.hd) {
    case 16: return DecodeAttentionVec<1>(a, scores, j0, j1);
    case 32: return DecodeAttentionVec<2>(a, scores, j0, j1);
    case 64: return DecodeAttentionVec<4>(a, scores, j0, j1);
    case 128: return DecodeAttentionVec<8>(a, scores, j0, j1);
    default: return DecodeAttentionPlain(a, scores, acc, j0, j1);
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
  // The (row, head) pairs split by the same rule as a GEMM of this much work (PartsFor).
  const int64_t pairs = n * H;
  const int parts = static_cast<int>(std::min<int64_t>(PartsFor(1, pairs, position + 1, 2 * hd), std::max<int64_t>(pairs, 1)));
  const AttentionArgs args{h.data + qo, h.data + ko, h.data + vo, h.data + oo, rows.Data(), position, kc.Data(), vc.Data(), H, cap, hd, scale};
  const int64_t stride = position + 1 + hd;
  std::vector<float> scratch(static_cast<size_t>(parts * stride));
  ThePool().Run(parts, [&](int p) {
    const auto [j0, j1] = Range(pairs, parts, p, 1);
    DecodeAttentionPairs(args, scratch.data() + p * stride, scratch.data() + p * stride + position + 1, j0, j1);
  });
  return env.Undefined();
}


// ---------------------------------------------------------------------------------------------
// Causal self-attention over packed sequences, for training (no KV cache): q, k, v, out are
// (N, H*hd) on the heap, heads side by side, and sequence r holds rows starts[r]..starts[r+1]-1 (no
// padding anywhere; the layout of flash-attn's varlen kernels). q comes scaled by 1/sqrt(hd).
//   forward:  y_i = sum_{j<=i} p_ij v_j,  p_ij = exp(s_ij - max_j s_ij) / sum_j exp(...),  s_ij = q_i . k_j
//   backward: dp_ij = dy_i . v_j,  D_i = sum_j p_ij dp_ij,  ds_ij = p_ij (dp_ij - D_i),
//             dq_i = sum_j ds_ij k_j,  dk_j = sum_{i>=j} ds_ij q_i,  dv_j = sum_{i>=j} p_ij dy_i
// The backward recomputes p from q and k with the same code as the forward. Each (sequence, head)
// pair is computed alone, sums in a fixed order (j, then i, ascending; dot products by SumF16's
// tree), so splitting the pairs over threads gives the same bits.
struct PackedAttention {
  const float* q;
  const float* k;
  const float* v;
  const int32_t* starts;
  int64_t H, hd;
};

// y += w x over hd floats (vectors of 16 when NC > 0).
template <int NC>
static inline void Axpy(float* y, float w, const float* x, int64_t hd) {
  if constexpr (NC > 0) {
    for (int c = 0; c < NC; ++c) {
      const F16 r = LoadF16(y + 16 * c) + w * LoadF16(x + 16 * c);
      std::memcpy(y + 16 * c, &r, sizeof r);
    }
  } else {
    for (int64_t d = 0; d < hd; ++d) y[d] += w * x[d];
  }
}

// x held in registers (loaded once) for many dot products x . y over hd floats: 16 lane partials
// summed by SumF16 (NC > 0), or in order.
template <int NC>
struct Held {
  F16 v[NC > 0 ? NC : 1];
  const float* x;
  explicit Held(const float* from) : x(from) {
    if constexpr (NC > 0)
      for (int c = 0; c < NC; ++c) v[c] = LoadF16(from + 16 * c);
  }
  inline float Dot(const float* y, int64_t hd) const {
    if constexpr (NC > 0) {
      F16 s = v[0] * LoadF16(y);
      for (int c = 1; c < NC; ++c) s += v[c] * LoadF16(y + 16 * c);
      return SumF16(s);
    } else {
      float s = 0;
      for (int64_t d = 0; d < hd; ++d) s += x[d] * y[d];
      return s;
    }
  }
};

// p[0..i] = softmax over j <= i of q_i . k_j, for pair (base row, head column hc). The exps run
// as one vector loop; their sum is 16 lane partials (lane l: j = l, l + 16, ...) added by SumF16.
template <int NC>
static inline void CausalRow(const PackedAttention& a, const float* qi, int64_t base, int64_t hc, int64_t i, float* __restrict p) {
  const int64_t C = a.H * a.hd;
  const Held<NC> q(qi);
  float mx = -3.4e38f;
  for (int64_t j = 0; j <= i; ++j) {
    const float sc = q.Dot(a.k + (base + j) * C + hc, a.hd);
    p[j] = sc;
    mx = sc > mx ? sc : mx;
  }
  const int64_t n = i + 1, padded = (n + 15) / 16 * 16;
  for (int64_t j = 0; j < n; ++j) p[j] = ExpF(p[j] - mx);
  for (int64_t j = n; j < padded; ++j) p[j] = 0.f;
  F16 lanes = {};
  for (int64_t j = 0; j < padded; j += 16) lanes += LoadF16(p + j);
  const float inv = 1.0f / SumF16(lanes);
  for (int64_t j = 0; j < n; ++j) p[j] *= inv;
}

// acc[c] += w x[16c..16c+15] (registers), or the plain loop over hd floats when NC == 0.
template <int NC>
struct Acc {
  F16 v[NC > 0 ? NC : 1] = {};
  float* plain;  // hd floats of scratch when NC == 0
  explicit Acc(float* scratch, int64_t hd) : plain(scratch) {
    if constexpr (NC == 0) std::memset(plain, 0, hd * sizeof(float));
  }
  inline void Add(float w, const float* x, int64_t hd) {
    if constexpr (NC > 0) {
      for (int c = 0; c < NC; ++c) v[c] += w * LoadF16(x + 16 * c);
    } else {
      for (int64_t d = 0; d < hd; ++d) plain[d] += w * x[d];
    }
  }
  inline void Store(float* out, int64_t hd) const {
    if constexpr (NC > 0) {
      std::memcpy(out, v, sizeof v);
    } else {
      std::memcpy(out, plain, hd * sizeof(float));
    }
  }
};

template <int NC>
DUET_CLONES static void PackedAttentionForward(const PackedAttention& a, float* out, float* p, int64_t j0, int64_t j1) {
  const int64_t C = a.H * a.hd;
  for (int64_t pair = j0; pair < j1; ++pair) {
    const int64_t r = pair / a.H, hc = (pair % a.H) * a.hd, base = a.starts[r], L = a.starts[r + 1] - base;
    float* plain = p + L + 16;  // hd floats, when NC == 0
    for (int64_t i = 0; i < L; ++i) {
      CausalRow<NC>(a, a.q + (base + i) * C + hc, base, hc, i, p);
      Acc<NC> y(plain, a.hd);
      for (int64_t j = 0; j <= i; ++j) y.Add(p[j], a.v + (base + j) * C + hc, a.hd);
      y.Store(out + (base + i) * C + hc, a.hd);
    }
  }
}

// dq_i in registers; dk_j and dv_j are summed over i in memory (zeroed first), i ascending.
template <int NC>
DUET_CLONES static void PackedAttentionBackward(const PackedAttention& a, const float* dy, float* dq, float* dk, float* dv,
                                                float* p, int64_t j0, int64_t j1) {
  const int64_t C = a.H * a.hd;
  for (int64_t pair = j0; pair < j1; ++pair) {
    const int64_t r = pair / a.H, hc = (pair % a.H) * a.hd, base = a.starts[r], L = a.starts[r + 1] - base;
    float* ds = p + L + 16;  // dp_ij, then ds_ij
    float* plain = ds + L + 16;
    for (int64_t j = 0; j < L; ++j) {
      std::memset(dk + (base + j) * C + hc, 0, a.hd * sizeof(float));
      std::memset(dv + (base + j) * C + hc, 0, a.hd * sizeof(float));
    }
    for (int64_t i = 0; i < L; ++i) {
      const float* qi = a.q + (base + i) * C + hc;
      const float* dyi = dy + (base + i) * C + hc;
      CausalRow<NC>(a, qi, base, hc, i, p);
      float D = 0;
      const Held<NC> dyHeld(dyi);
      for (int64_t j = 0; j <= i; ++j) {
        ds[j] = dyHeld.Dot(a.v + (base + j) * C + hc, a.hd);
        D += p[j] * ds[j];
      }
      Acc<NC> dqi(plain, a.hd);
      for (int64_t j = 0; j <= i; ++j) {
        ds[j] = p[j] * (ds[j] - D);
        dqi.Add(ds[j], a.k + (base + j) * C + hc, a.hd);
        Axpy<NC>(dk + (base + j) * C + hc, ds[j], qi, a.hd);
        Axpy<NC>(dv + (base + j) * C + hc, p[j], dyi, a.hd);
      }
      dqi.Store(dq + (base + i) * C + hc, a.hd);
    }
  }
}

// Reads and checks the shared arguments: starts (R + 1, from 0, non-decreasing), H, hd; returns
// the packed rows N = starts[R] and the longest sequence.
static std::pair<int64_t, int64_t> PackedShape(const Napi::Env& env, const Napi::Int32Array& starts, int64_t H, int64_t hd,
                                               const char* who) {
  const int64_t R = static_cast<int64_t>(starts.ElementLength()) - 1;
  if (R < 0 || starts[0] != 0) throw Napi::RangeError::New(env, std::string("duet_blas.") + who + ": starts must begin with 0");
  if (H < 1 || hd < 1) throw Napi::RangeError::New(env, std::string("duet_blas.") + who + ": heads and headDim must be >= 1");
  int64_t longest = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t L = static_cast<int64_t>(starts[static_cast<size_t>(r + 1)]) - starts[static_cast<size_t>(r)];
    if (L < 0) throw Napi::RangeError::New(env, std::string("duet_blas.") + who + ": starts must not decrease");
    longest = std::max(longest, L);
  }
  return {static_cast<int64_t>(starts[static_cast<size_t>(R)]), longest};
}

// Runs f(pairs j0..j1-1, scratch) over the (sequence, head) pairs, split by a rule on the shape
// alone; the scratch holds 2 (longest + 16) + hd floats.
static void OverPairs(int64_t pairs, int64_t longest, int64_t hd, const std::function<void(int64_t, int64_t, float*)>& f) {
  const int parts = static_cast<int>(std::min<int64_t>(PartsFor(1, pairs, longest, longest * hd), std::max<int64_t>(pairs, 1)));
  const int64_t stride = 2 * (longest + 16) + hd;
  std::vector<float> scratch(static_cast<size_t>(parts * stride));
  ThePool().Run(parts, [&](int part) {
    const auto [j0, j1] = Range(pairs, parts, part, 1);
    f(j0, j1, scratch.data() + part * stride);
  });
}

#define DUET_BY_HEAD_DIM(hd, CALL)    \
  switch (hd) {                       \
    case 16: CALL(1); break;          \
    case 32: CALL(2); break;          \
    case 64: CALL(4); break;          \
    case 128: CALL(8); break;         \
    default: CALL(0); break;          \
  }

// packedAttention(heap, qOff, kOff, vOff, outOff, starts Int32Array, H, hd)
Napi::Value PackedAttentionFwd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) throw Napi::TypeError::New(env, "duet_blas.packedAttention: expected 8 arguments");
  Heap h = GetHeap(info[0]);
  const int64_t qo = Int(info, 1), ko = Int(info, 2), vo = Int(info, 3), oo = Int(info, 4);
  Napi::Int32Array starts = info[5].As<Napi::Int32Array>();
  const int64_t H = Int(info, 6), hd = Int(info, 7);
  const auto [N, longest] = PackedShape(env, starts, H, hd, "packedAttention");
  for (auto [o, what] : {std::pair{qo, "q"}, {ko, "k"}, {vo, "v"}, {oo, "out"}}) CheckRange(env, h, o, N * H * hd, what);
  const PackedAttention a{h.data + qo, h.data + ko, h.data + vo, starts.Data(), H, hd};
  float* out = h.data + oo;
  const int64_t pairs = (static_cast<int64_t>(starts.ElementLength()) - 1) * H;
  OverPairs(pairs, longest, hd, [&](int64_t j0, int64_t j1, float* p) {
#define DUET_FWD(NC) PackedAttentionForward<NC>(a, out, p, j0, j1)
    DUET_BY_HEAD_DIM(hd, DUET_FWD)
#undef DUET_FWD
  });
  return env.Undefined();
}

// packedAttentionGrad(heap, dyOff, qOff, kOff, vOff, dqOff, dkOff, dvOff, starts Int32Array, H, hd)
Napi::Value PackedAttentionBwd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "duet_blas.packedAttentionGrad: expected 11 arguments");
  Heap h = GetHeap(info[0]);
  const int64_t dyo = Int(info, 1), qo = Int(info, 2), ko = Int(info, 3), vo = Int(info, 4);
  const int64_t dqo = Int(info, 5), dko = Int(info, 6), dvo = Int(info, 7);
  Napi::Int32Array starts = info[8].As<Napi::Int32Array>();
  const int64_t H = Int(info, 9), hd = Int(info, 10);
  const auto [N, longest] = PackedShape(env, starts, H, hd, "packedAttentionGrad");
  for (auto [o, what] : {std::pair{dyo, "dy"}, {qo, "q"}, {ko, "k"}, {vo, "v"}, {dqo, "dq"}, {dko, "dk"}, {dvo, "dv"}})
    CheckRange(env, h, o, N * H * hd, what);
  const PackedAttention a{h.data + qo, h.data + ko, h.data + vo, starts.Data(), H, hd};
  const float* dy = h.data + dyo;
  float *dq = h.data + dqo, *dk = h.data + dko, *dv = h.data + dvo;
  const int64_t pairs = (static_cast<int64_t>(starts.ElementLength()) - 1) * H;
  OverPairs(pairs, longest, hd, [&](int64_t j0, int64_t j1, float* p) {
#define DUET_BWD(NC) PackedAttentionBackward<NC>(a, dy, dq, dk, dv, p, j0, j1)
    DUET_BY_HEAD_DIM(hd, DUET_BWD)
#undef DUET_BWD
  });
  return env.Undefined();
}
#undef DUET_BY_HEAD_DIM

// transpose(heap, xOff, outOff, shape Int32Array, perm Int32Array): out = x with its axes permuted
// (out's axis i is x's axis perm[i]), 4-byte elements copied bit for bit. Adjacent axes that stay
// adjacent are merged first, so (B, T, H, hd) -> (B, H, T, hd) is a copy of hd-long runs.
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t xo = Int(info, 1), oo = Int(info, 2);
  Napi::Int32Array shapeArr = info[3].As<Napi::Int32Array>();
  Napi::Int32Array permArr = info[4].As<Napi::Int32Array>();
  const size_t rank = shapeArr.ElementLength();
  if (permArr.ElementLength() != rank || rank == 0 || rank > 8) throw Napi::RangeError::New(env, "duet_blas.transpose: bad rank");
  std::vector<int64_t> shape(rank);
  std::vector<int> perm(rank);
  std::vector<bool> seen(rank, false);
  int64_t n = 1;
  for (size_t i = 0; i < rank; ++i) {
    shape[i] = shapeArr[i];
    perm[i] = permArr[i];
    if (shape[i] < 0 || perm[i] < 0 || perm[i] >= static_cast<int>(rank) || seen[perm[i]]) throw Napi::RangeError::New(env, "duet_blas.transpose: bad shape or perm");
    seen[perm[i]] = true;
    n *= shape[i];
  }
  CheckRange(env, h, xo, n, "x");
  CheckRange(env, h, oo, n, "out");
  if (n == 0) return env.Undefined();
  // Merge runs of output axes that are consecutive input axes.
  std::vector<int64_t> inStride(rank);
  inStride[rank - 1] = 1;
  for (size_t i = rank - 1; i > 0; --i) inStride[i - 1] = inStride[i] * shape[i];
  std::vector<int64_t> dims, strides;  // output order, merged
  for (size_t i = 0; i < rank; ++i) {
    const int a = perm[i];
    if (!dims.empty() && i > 0 && perm[i - 1] + 1 == a) {
      dims.back() *= shape[a];
      strides.back() = inStride[a];
    } else {
      dims.push_back(shape[a]);
      strides.push_back(inStride[a]);
    }
  }
  const uint32_t* x = reinterpret_cast<const uint32_t*>(h.data + xo);
  uint32_t* out = reinterpret_cast<uint32_t*>(h.data + oo);
  const size_t r = dims.size();
  const int64_t inner = dims[r - 1], innerStride = strides[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t outer = n / inner;
  for (int64_t o = 0; o < outer; ++o) {
    int64_t base = 0;
    for (size_t d = 0; d + 1 < r; ++d) base += idx[d] * strides[d];
    if (innerStride == 1) {
      std::memcpy(out, x + base, inner * sizeof(uint32_t));
    } else {
      for (int64_t j = 0; j < inner; ++j) out[j] = x[base + j * innerStride];
    }
    out += inner;
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return env.Undefined();
}

// addRows(heap, cOff, vOff, rows, cols): c[r, j] += v[j], in place (a linear layer's bias after
// its GEMM: the same float additions as a separate broadcast Add).
Napi::Value AddRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap h = GetHeap(info[0]);
  int64_t co = Int(info, 1), vo = Int(info, 2), rows = Int(info, 3), cols = Int(info, 4);
  if (rows < 0 || cols < 0) throw Napi::RangeError::New(env, "duet_blas.addRows: negative size");
  CheckRange(env, h, co, rows * cols, "c");
  CheckRange(env, h, vo, cols, "v");
  float* c = h.data + co;
  const float* v = h.data + vo;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) c[r * cols + j] += v[j];
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
  ThePool().Resize(n);
  return info.Env().Undefined();
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g_threads); }

Napi::Value Config(const Napi::CallbackInfo& info) {
#ifdef DUET_OWN_GEMM
  return Napi::String::New(info.Env(), "duet-gemm " DUET_GEMM_KIND " (duet's own GEMM, built at install; no OpenBLAS)");
#else
  return Napi::String::New(info.Env(), openblas_get_config());
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("sgemmOffsets", Napi::Function::New(env, SgemmOffsets));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("packedAttention", Napi::Function::New(env, PackedAttentionFwd));
  exports.Set("packedAttentionGrad", Napi::Function::New(env, PackedAttentionBwd));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("addRows", Napi::Function::New(env, AddRows));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
  exports.Set("adamW", Napi::Function::New(env, AdamW));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGrad));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("config", Napi::Function::New(env, Config));
#ifndef DUET_OWN_GEMM
  openblas_set_num_threads(1);  // duet's pool splits the work (see Pool): OpenBLAS itself stays on one thread
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(duet_blas, Init)
