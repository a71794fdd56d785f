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
double g_small_flops = 4.0e6;       // M*N*K at or below this runs on one thread

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

void WithThreads(double mnk, int batch, const std::function<void()>& f) {
  // OpenBLAS's own cut-off (M*N*K <= 262144) is far below the size where a second thread pays
  // on these machines; a batch of small GEMMs is run on one thread as well.
  int want = (mnk <= g_small_flops) ? 1 : g_threads;
  (void)batch;
  if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
  f();
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

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = static_cast<int>(Int(info, 0));
  if (n < 1) throw Napi::RangeError::New(info.Env(), "duet_blas.setThreads: threads must be >= 1");
  g_threads = n;
  if (info.Length() > 1 && info[1].IsNumber()) g_small_flops = Num(info, 1);
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
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("config", Napi::Function::New(env, Config));
  g_threads = openblas_get_num_threads();
  return exports;
}

}  // namespace

NODE_API_MODULE(duet_blas, Init)
