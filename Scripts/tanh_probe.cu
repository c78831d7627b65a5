// Hopper probe of tanh.approx.f32 (MUFU.TANH), the tanh that FlashAttention-3's softcap uses
// (cutlass::fast_tanh): the facts a bit-exact model needs, over all 2^32 inputs.
//
//   nvcc -O2 -arch=sm_90 -o tanh_probe Scripts/tanh_probe.cu
//   ./tanh_probe analyze              # per input binade: how many low input bits never change the
//                                     # output, which output mantissa bits are ever set, how many
//                                     # inputs give x itself or ±1; and whether tanh(−x) = −tanh(x)
//   ./tanh_probe dump LO HI OUT.bin   # outputs (uint32) for input bit patterns LO..HI−1
//   ./tanh_probe hashes OUT.bin       # per chunk of 2^20 consecutive inputs (4096 chunks = all 2^32
//                                     # bit patterns): sum of mix((x << 32) | tanh(x)) mod 2^64, as
//                                     # 4096 little-endian uint64 (`flashnum mufu --function tanh
//                                     # --check OUT.bin` compares the model; mix: SplitMix64's finalizer)
//   ./tanh_probe eval IN.bin OUT.bin  # uint32 inputs -> uint32 outputs
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

__device__ __forceinline__ float tanhf_approx(float x) { float y; asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }

// Per binade e (input bits e << 23 ... (e + 1) << 23 − 1, positive):
// stats[e * 32 + j] for j < 24: inputs whose output changes when their low j + 1 bits are cleared;
// stats[e * 32 + 24]: OR of output mantissas; 25: outputs equal to x; 26: outputs equal to 1;
// 27: odd-symmetry failures; 28: OR of output exponent bits.
__global__ void analyze(unsigned long long *stats) {
  uint32_t e = blockIdx.y;
  uint32_t base = (e << 23) | (blockIdx.x << 13);
  __shared__ unsigned long long local[32];
  if (threadIdx.x < 32) local[threadIdx.x] = 0;
  __syncthreads();
  unsigned long long counts[24] = {0};
  uint32_t orMantissa = 0, orExponent = 0;
  unsigned long long same = 0, one = 0, odd = 0;
  for (uint32_t k = 0; k < 32; k++) {
    uint32_t i = base | (k << 8) | threadIdx.x;
    float x = __uint_as_float(i);
    uint32_t y = __float_as_uint(tanhf_approx(x));
    for (int j = 0; j < 24; j++) {
      uint32_t t = i & ~((2u << j) - 1);
      if (__float_as_uint(tanhf_approx(__uint_as_float(t))) != y) counts[j]++;
    }
    orMantissa |= y & 0x7FFFFF;
    orExponent |= y & 0x7F800000;
    if (y == i) same++;
    if (y == 0x3F800000) one++;
    if (__float_as_uint(tanhf_approx(-x)) != (y ^ 0x80000000u)) odd++;
  }
  for (int j = 0; j < 24; j++) atomicAdd(&local[j], counts[j]);
  atomicOr(&local[24], (unsigned long long)orMantissa);
  atomicAdd(&local[25], same);
  atomicAdd(&local[26], one);
  atomicAdd(&local[27], odd);
  atomicOr(&local[28], (unsigned long long)orExponent);
  __syncthreads();
  if (threadIdx.x < 29) {
    if (threadIdx.x == 24 || threadIdx.x == 28) atomicOr(&stats[e * 32 + threadIdx.x], local[threadIdx.x]);
    else atomicAdd(&stats[e * 32 + threadIdx.x], local[threadIdx.x]);
  }
}

__global__ void dump(uint32_t lo, uint32_t n, uint32_t *out) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float_as_uint(tanhf_approx(__uint_as_float(lo + i)));
}

__device__ __forceinline__ uint64_t mix(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One block per chunk of 2^20 inputs, 1024 threads.
__global__ void hashes(uint64_t *out) {
  uint32_t chunk = blockIdx.x;
  uint64_t local = 0;
  for (uint32_t j = 0; j < 1024; j++) {
    uint32_t i = (chunk << 20) | (j << 10) | threadIdx.x;
    local += mix(((uint64_t)i << 32) | __float_as_uint(tanhf_approx(__uint_as_float(i))));
  }
  __shared__ unsigned long long sums[1024];
  sums[threadIdx.x] = local;
  __syncthreads();
  for (int s = 512; s > 0; s >>= 1) {
    if (threadIdx.x < s) sums[threadIdx.x] += sums[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[chunk] = sums[0];
}

__global__ void eval(const uint32_t *in, uint32_t n, uint32_t *out) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float_as_uint(tanhf_approx(__uint_as_float(in[i])));
}

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "analyze")) {
    unsigned long long *d;
    CHECK(cudaMalloc(&d, 256 * 32 * sizeof(unsigned long long)));
    CHECK(cudaMemset(d, 0, 256 * 32 * sizeof(unsigned long long)));
    analyze<<<dim3(1024, 256), 256>>>(d);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<unsigned long long> s(256 * 32);
    CHECK(cudaMemcpy(s.data(), d, s.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
    printf("binade exp2 | low bits free | output mantissa OR | output exponents OR | y==x | y==1 | odd failures\n");
    for (int e = 0; e < 256; e++) {
      unsigned long long *r = &s[e * 32];
      int free = 0;
      while (free < 24 && r[free] == 0) free++;
      printf("%d | %d | 0x%06llx | 0x%08llx | %llu | %llu | %llu\n", e - 127, free, r[24], r[28], r[25], r[26], r[27]);
    }
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "dump")) {
    uint32_t lo = strtoul(argv[2], 0, 0), hi = strtoul(argv[3], 0, 0), n = hi - lo;
    uint32_t *d;
    CHECK(cudaMalloc(&d, (size_t)n * 4));
    dump<<<(n + 255) / 256, 256>>>(lo, n, d);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<uint32_t> h(n);
    CHECK(cudaMemcpy(h.data(), d, (size_t)n * 4, cudaMemcpyDeviceToHost));
    FILE *f = fopen(argv[4], "wb");
    if (!f) { perror(argv[4]); return 1; }
    fwrite(h.data(), 4, n, f);
    fclose(f);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "hashes")) {
    uint64_t *d;
    CHECK(cudaMalloc(&d, 4096 * sizeof(uint64_t)));
    hashes<<<4096, 1024>>>(d);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<uint64_t> h(4096);
    CHECK(cudaMemcpy(h.data(), d, h.size() * 8, cudaMemcpyDeviceToHost));
    FILE *f = fopen(argv[2], "wb");
    if (!f) { perror(argv[2]); return 1; }
    fwrite(h.data(), 8, h.size(), f);
    fclose(f);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "eval")) {
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    std::vector<uint32_t> x;
    uint32_t v;
    while (fread(&v, 4, 1, f) == 1) x.push_back(v);
    fclose(f);
    uint32_t n = x.size();
    uint32_t *din, *dout;
    CHECK(cudaMalloc(&din, (size_t)n * 4 + 4));
    CHECK(cudaMalloc(&dout, (size_t)n * 4 + 4));
    CHECK(cudaMemcpy(din, x.data(), (size_t)n * 4, cudaMemcpyHostToDevice));
    eval<<<(n + 255) / 256, 256>>>(din, n, dout);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<uint32_t> y(n);
    CHECK(cudaMemcpy(y.data(), dout, (size_t)n * 4, cudaMemcpyDeviceToHost));
    f = fopen(argv[3], "wb");
    if (!f) { perror(argv[3]); return 1; }
    fwrite(y.data(), 4, n, f);
    fclose(f);
    return 0;
  }
  fprintf(stderr, "usage: tanh_probe analyze | dump LO HI OUT.bin | hashes OUT.bin | eval IN.bin OUT.bin\n");
  return 2;
}
