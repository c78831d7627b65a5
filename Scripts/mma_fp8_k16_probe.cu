// Hopper probe of the FP8 mma.sync m16n8k16 forms (e4m3 and e5m2, FP32 accumulator), the
// instructions behind `flashnum mma --instruction mma-e4m3-k16|mma-e5m2-k16`.
//
//   nvcc -O2 -arch=sm_90a -o mma_fp8_k16_probe Scripts/mma_fp8_k16_probe.cu
//   ./mma_fp8_k16_probe e4m3|e5m2 A.bin B.bin C.bin D.bin
//
// A.bin: T tiles of 16×16 FP8 codes (row-major, [t][i][k]); B.bin: T tiles of 8×16 codes
// ([t][j][k], i.e. B's columns); C.bin: T tiles of 16×8 FP32 bit patterns; D.bin gets
// D[t][i][j] = Σ_k A[t][i][k]·B[t][j][k] + C[t][i][j] as the instruction computes it. One warp per
// tile; fragments as the PTX ISA lays them out for m16n8k16 with 8-bit types: a0 = row g, a1 =
// row g + 8, each four consecutive k from 4·(lane mod 4); b0 = column g, the same four k; c0, c1 =
// row g, columns 2·(lane mod 4) + {0, 1}; c2, c3 = row g + 8 (g = lane / 4).
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>

template <bool E5M2>
__global__ void probe(const uint8_t *A, const uint8_t *B, const uint32_t *C, uint32_t *D) {
  int t = blockIdx.x, lane = threadIdx.x, g = lane / 4, q = lane % 4;
  const uint8_t *a = A + t * 256, *b = B + t * 128;
  const uint32_t *c = C + t * 128;
  uint32_t a0, a1, b0;
  memcpy(&a0, a + g * 16 + 4 * q, 4);
  memcpy(&a1, a + (g + 8) * 16 + 4 * q, 4);
  memcpy(&b0, b + g * 16 + 4 * q, 4);
  float c0 = __uint_as_float(c[g * 8 + 2 * q]), c1 = __uint_as_float(c[g * 8 + 2 * q + 1]);
  float c2 = __uint_as_float(c[(g + 8) * 8 + 2 * q]), c3 = __uint_as_float(c[(g + 8) * 8 + 2 * q + 1]);
  float d0, d1, d2, d3;
  if (E5M2) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.e5m2.e5m2.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3) : "r"(a0), "r"(a1), "r"(b0), "f"(c0), "f"(c1), "f"(c2), "f"(c3));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3) : "r"(a0), "r"(a1), "r"(b0), "f"(c0), "f"(c1), "f"(c2), "f"(c3));
  }
  uint32_t *d = D + t * 128;
  d[g * 8 + 2 * q] = __float_as_uint(d0);
  d[g * 8 + 2 * q + 1] = __float_as_uint(d1);
  d[(g + 8) * 8 + 2 * q] = __float_as_uint(d2);
  d[(g + 8) * 8 + 2 * q + 1] = __float_as_uint(d3);
}

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

static std::vector<uint8_t> slurp(const char *path) {
  std::vector<uint8_t> v;
  FILE *f = fopen(path, "rb");
  if (!f) return v;
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) v.insert(v.end(), buf, buf + n);
  fclose(f);
  return v;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[1], "e4m3") && strcmp(argv[1], "e5m2"))) {
    fprintf(stderr, "usage: mma_fp8_k16_probe e4m3|e5m2 A.bin B.bin C.bin D.bin\n");
    return 2;
  }
  std::vector<uint8_t> a = slurp(argv[2]), b = slurp(argv[3]), c = slurp(argv[4]);
  size_t tiles = a.size() / 256;
  if (tiles == 0 || a.size() != tiles * 256 || b.size() != tiles * 128 || c.size() != tiles * 512) {
    fprintf(stderr, "mma_fp8_k16_probe: sizes do not fit T tiles (A %zu, B %zu, C %zu bytes)\n", a.size(), b.size(), c.size());
    return 2;
  }
  uint8_t *dA, *dB;
  uint32_t *dC, *dD;
  CHECK(cudaMalloc(&dA, a.size())); CHECK(cudaMalloc(&dB, b.size()));
  CHECK(cudaMalloc(&dC, c.size())); CHECK(cudaMalloc(&dD, c.size()));
  CHECK(cudaMemcpy(dA, a.data(), a.size(), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dB, b.data(), b.size(), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dC, c.data(), c.size(), cudaMemcpyHostToDevice));
  if (!strcmp(argv[1], "e5m2")) probe<true><<<tiles, 32>>>(dA, dB, dC, dD); else probe<false><<<tiles, 32>>>(dA, dB, dC, dD);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<uint8_t> d(c.size());
  CHECK(cudaMemcpy(d.data(), dD, d.size(), cudaMemcpyDeviceToHost));
  FILE *f = fopen(argv[5], "wb");
  if (!f) { perror(argv[5]); return 1; }
  fwrite(d.data(), 1, d.size(), f);
  fclose(f);
  return 0;
}
