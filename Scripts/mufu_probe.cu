// H100 probe of the MUFU approximations that FlashAttention-3 uses under --use_fast_math:
// ex2.approx.ftz.f32, rcp.approx.ftz.f32, lg2.approx.ftz.f32.
//
//   nvcc -O2 -arch=sm_90a -o mufu_probe Scripts/mufu_probe.cu
//   ./mufu_probe hashes OUT.bin        # for each function (ex2, rcp, lg2) and each chunk of 2^20
//                                      # consecutive inputs (4096 chunks = all 2^32 float bit
//                                      # patterns): sum over the chunk of mix((x << 32) | f(x))
//                                      # mod 2^64; 3 x 4096 little-endian uint64
//   ./mufu_probe eval IN.bin OUT.bin   # uint32 inputs -> 3 uint32 outputs each (ex2, rcp, lg2)
//
// mix is SplitMix64's finalizer; `flashnum mufu --chunk-hashes` computes the same sums from the
// Swift models, so equal files mean equal outputs on every input (up to a 2^-64 collision).
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

__device__ __forceinline__ float ex2f(float x) { float y; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }
__device__ __forceinline__ float rcpf(float x) { float y; asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }
__device__ __forceinline__ float lg2f(float x) { float y; asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }

__device__ __forceinline__ uint64_t mix(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ float apply(int f, float x) { return f == 0 ? ex2f(x) : f == 1 ? rcpf(x) : lg2f(x); }

__global__ void hashes(int f, uint64_t *out) {
  // one block per chunk of 2^20 inputs, 1024 threads, 1024 inputs per thread
  uint32_t chunk = blockIdx.x;
  uint64_t local = 0;
  for (uint32_t j = 0; j < 1024; j++) {
    uint32_t i = (chunk << 20) | (j << 10) | threadIdx.x;
    float y = apply(f, __uint_as_float(i));
    local += mix(((uint64_t)i << 32) | __float_as_uint(y));
  }
  atomicAdd((unsigned long long *)&out[f * 4096 + chunk], (unsigned long long)local);
}

__global__ void eval(const uint32_t *in, uint32_t *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = __uint_as_float(in[i]);
  out[3 * i] = __float_as_uint(ex2f(x));
  out[3 * i + 1] = __float_as_uint(rcpf(x));
  out[3 * i + 2] = __float_as_uint(lg2f(x));
}

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "hashes")) {
    uint64_t *d;
    CHECK(cudaMalloc(&d, 3 * 4096 * sizeof(uint64_t)));
    CHECK(cudaMemset(d, 0, 3 * 4096 * sizeof(uint64_t)));
    for (int f = 0; f < 3; f++) hashes<<<4096, 1024>>>(f, d);
    CHECK(cudaDeviceSynchronize());
    std::vector<uint64_t> h(3 * 4096);
    CHECK(cudaMemcpy(h.data(), d, h.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    FILE *fp = fopen(argv[2], "wb");
    fwrite(h.data(), sizeof(uint64_t), h.size(), fp);
    fclose(fp);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "eval")) {
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) { perror(argv[2]); return 1; }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp) / 4;
    fseek(fp, 0, SEEK_SET);
    std::vector<uint32_t> x(n), y(3 * n);
    if (fread(x.data(), 4, n, fp) != (size_t)n) { fprintf(stderr, "short read\n"); return 1; }
    fclose(fp);
    uint32_t *dx, *dy;
    CHECK(cudaMalloc(&dx, n * 4));
    CHECK(cudaMalloc(&dy, 3 * n * 4));
    CHECK(cudaMemcpy(dx, x.data(), n * 4, cudaMemcpyHostToDevice));
    eval<<<(n + 255) / 256, 256>>>(dx, dy, (int)n);
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaMemcpy(y.data(), dy, 3 * n * 4, cudaMemcpyDeviceToHost));
    fp = fopen(argv[3], "wb");
    fwrite(y.data(), 4, 3 * n, fp);
    fclose(fp);
    return 0;
  }
  fprintf(stderr, "usage: mufu_probe hashes OUT.bin | eval IN.bin OUT.bin\n");
  return 2;
}
