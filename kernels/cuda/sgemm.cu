// SGEMM for tinygrad_lite: C = op(A) @ op(B) in float32 on FP32 SIMT cores (no tensor cores).
//
// Every matrix is row-major (C-contiguous). C is M x N. op(A) is M x K and op(B) is K x N:
//   A not transposed: stored M x K, element (m, k) at A[m * lda + k]
//   A transposed:     stored K x M, element (m, k) at A[k * lda + m]
//   B not transposed: stored K x N, element (k, n) at B[k * ldb + n]
//   B transposed:     stored N x K, element (k, n) at B[n * ldb + k]
// so the backward of matmul passes its saved arrays as they are (NT for dA = dC @ B^T, TN for
// dB = A^T @ dC) and never materialises a transpose.
//
// Design (one template, eight extern "C" entry points at the bottom):
// - a block of 256 threads computes a BM x BM tile of C, walking K in slices of BK;
// - each slice of op(A) (BM x BK) and op(B) (BK x BM) is staged in shared memory k-major
//   (As[k][m], Bs[k][n]) so a thread reads 4 consecutive m (or n) with one float4;
// - each thread owns a TM x TM register micro-tile: rows {h*64 + ty*4 + i} and columns
//   {h*64 + tx*4 + j} for h < TM/4, i, j < 4 (ty, tx = thread row / column in a 16 x 16 grid).
//   Splitting the micro-tile into 4-wide strips 64 apart keeps the float4 shared reads of a warp
//   on distinct banks (16 threads x 16 bytes cover 256 consecutive bytes) instead of 8-way
//   conflicts that 8 consecutive rows per thread would cause;
// - every thread fetches exactly one float4 of A and one of B per slice (BM * BK = 1024 =
//   256 threads x 4). Fetches are float4 when the operand's base pointer is 16-byte aligned and
//   its leading dimension is a multiple of 4, scalar otherwise; elements outside the matrix read
//   as 0, so the edge tiles of any M, N, K need no special case in the inner loop;
// - double buffering: the next slice is fetched into registers before the current one is
//   multiplied, then written to the other shared buffer; one __syncthreads per slice.
// - batches: blockIdx.z is the batch item; per-operand element strides (0 broadcasts).
// Tile configurations: "large" BM=128, BK=8, TM=8 (the throughput kernel) and "small" BM=64,
// BK=16, TM=4 (4x more blocks, for problems that would leave most SMs idle with 128 x 128 tiles).

#define SGEMM_THREADS 256
// +4 floats of padding per shared row: keeps rows 16-byte aligned for float4 reads and moves the
// scattered stores of k-contiguous operands (below) onto different banks.
#define SGEMM_PAD 4

// Reads one operand, slice after slice, for one thread: each call to next() returns this thread's
// float4 of the current BK x BM slice and advances to the next slice. K_FAST: the operand is stored
// MN x K (k is the contiguous index; the thread reads 4 consecutive k of one row mn), else K x MN
// (the thread reads 4 consecutive mn of one row k). mn is m for A and n for B. Elements outside
// the matrix read as 0, so edge tiles of any M, N, K need no special case in the inner loop.
// Everything that does not change along K is computed once here, which keeps registers low.
template <int BM, int BK, bool K_FAST>
struct SliceReader {
    const float* ptr;  // this thread's first element in the current slice
    long long step;    // elements from one slice to the next: BK (K_FAST) or BK * ld
    int k;             // k of this thread's (first) element in the current slice
    int valid;         // K_FAST: 1 if the row mn is inside the matrix; else in-range mn of the 4
    bool vec;          // float4 loads are legal (16-byte aligned base, ld % 4 == 0)

    __device__ __forceinline__ SliceReader(const float* p, int mn0, int MN, int ld, bool vec_ok,
                                           int tid) {
        vec = vec_ok;
        if (K_FAST) {
            // BM rows of BK floats: BK/4 threads per row. tid -> row tid/(BK/4), k 4*(tid%(BK/4)).
            const int mn = mn0 + tid / (BK / 4);
            k = (tid % (BK / 4)) * 4;
            valid = mn < MN;
            ptr = p + (valid ? (long long)mn * ld + k : 0);  // 64-bit: mn * ld can exceed 2^31
            step = BK;
        } else {
            // BK rows of BM floats: BM/4 threads per row. tid -> k tid/(BM/4), mn 4*(tid%(BM/4)).
            const int mn = mn0 + (tid % (BM / 4)) * 4;
            k = tid / (BM / 4);
            valid = MN - mn < 0 ? 0 : (MN - mn > 4 ? 4 : MN - mn);  // clamp to 0..4
            ptr = p + (long long)k * ld + (valid > 0 ? mn : 0);
            step = (long long)BK * ld;
        }
    }

    __device__ __forceinline__ float4 next(int K) {
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (K_FAST) {
            // k is a multiple of 4 and the row start is 16-byte aligned when vec: float4 is legal.
            if (valid) {
                if (vec && k + 3 < K) {
                    v = *reinterpret_cast<const float4*>(ptr);
                } else {
                    if (k + 0 < K) v.x = ptr[0];
                    if (k + 1 < K) v.y = ptr[1];
                    if (k + 2 < K) v.z = ptr[2];
                    if (k + 3 < K) v.w = ptr[3];
                }
            }
        } else {
            // mn is a multiple of 4 and the row start is 16-byte aligned when vec: float4 is legal.
            if (k < K) {
                if (vec && valid == 4) {
                    v = *reinterpret_cast<const float4*>(ptr);
                } else {
                    if (valid > 0) v.x = ptr[0];
                    if (valid > 1) v.y = ptr[1];
                    if (valid > 2) v.z = ptr[2];
                    if (valid > 3) v.w = ptr[3];
                }
            }
        }
        ptr += step;
        k += BK;
        return v;
    }
};

// Writes the float4 returned by SliceReader::next into the k-major shared slice s[k][mn], using
// the same thread -> (mn, k) mapping as the reader.
template <int BM, int BK, bool K_FAST>
__device__ __forceinline__ void stash_slice(float (*s)[BM + SGEMM_PAD], float4 v, int tid) {
    if (K_FAST) {
        // v holds k .. k+3 of one mn: scatter down a column of s (4 scalar stores).
        const int mn = tid / (BK / 4), k = (tid % (BK / 4)) * 4;
        s[k + 0][mn] = v.x;
        s[k + 1][mn] = v.y;
        s[k + 2][mn] = v.z;
        s[k + 3][mn] = v.w;
    } else {
        // v holds mn .. mn+3 of one k: one float4 store (row stride (BM+4)*4 bytes keeps it aligned).
        const int k = tid / (BM / 4), mn = (tid % (BM / 4)) * 4;
        *reinterpret_cast<float4*>(&s[k][mn]) = v;
    }
}

// Stores 4 values to C[row][col .. col+3] (row already checked), skipping columns >= N.
__device__ __forceinline__ void store4(float* __restrict__ crow, int col, int N, bool vec,
                                       float x, float y, float z, float w) {
    if (vec && col + 3 < N) {
        *reinterpret_cast<float4*>(crow + col) = make_float4(x, y, z, w);
    } else {
        if (col + 0 < N) crow[col + 0] = x;
        if (col + 1 < N) crow[col + 1] = y;
        if (col + 2 < N) crow[col + 2] = z;
        if (col + 3 < N) crow[col + 3] = w;
    }
}

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

template <int BM, int BK, int TM, bool TRANS_A, bool TRANS_B>
__device__ __forceinline__ void sgemm_body(const float* __restrict__ A,
                                           const float* __restrict__ B, float* __restrict__ C,
                                           int M, int N, int K, int lda, int ldb, int ldc,
                                           long long stride_a, long long stride_b,
                                           long long stride_c) {
    static_assert(BM * BK == 4 * SGEMM_THREADS, "each thread fetches one float4 per operand");
    static_assert(BM == 16 * TM, "16 x 16 threads, TM x TM outputs each, cover a BM x BM tile");
    static_assert(TM % 4 == 0, "the micro-tile is made of 4-wide strips");
    constexpr int STRIPS = TM / 4;   // 4-wide strips per thread along m (and along n)
    // op(A) is stored M x K (k fastest) when not transposed; op(B) is stored N x K when transposed.
    constexpr bool A_K_FAST = !TRANS_A;
    constexpr bool B_K_FAST = TRANS_B;

    __shared__ alignas(16) float As[2][BK][BM + SGEMM_PAD];
    __shared__ alignas(16) float Bs[2][BK][BM + SGEMM_PAD];

    const int tid = threadIdx.x;
    const int tx = tid % 16;          // column of this thread in the 16 x 16 thread grid
    const int ty = tid / 16;          // row
    const int m0 = blockIdx.x * BM;   // first row of C in this block's tile
    const int n0 = blockIdx.y * BM;   // first column
    const long long b = blockIdx.z;   // batch item (the host splits batches above 65535)
    A += b * stride_a;
    B += b * stride_b;
    C += b * stride_c;

    SliceReader<BM, BK, A_K_FAST> a_reader(A, m0, M, lda, (lda % 4 == 0) && aligned16(A), tid);
    SliceReader<BM, BK, B_K_FAST> b_reader(B, n0, N, ldb, (ldb % 4 == 0) && aligned16(B), tid);

    float acc[TM][TM];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] = 0.f;

    // Slice 0 goes straight to buffer 0 (for K == 0 it is all zeros and C gets zeros).
    stash_slice<BM, BK, A_K_FAST>(As[0], a_reader.next(K), tid);
    stash_slice<BM, BK, B_K_FAST>(Bs[0], b_reader.next(K), tid);
    __syncthreads();

    int buf = 0;
    for (int k0 = 0; k0 < K; k0 += BK) {
        const bool has_next = k0 + BK < K;
        // Issue the global loads of the next slice now; their latency hides behind the FMAs.
        float4 a_next, b_next;
        if (has_next) {
            a_next = a_reader.next(K);
            b_next = b_reader.next(K);
        }
// Unrolled by 2, not fully: full unrolling lets the compiler hoist every shared read of the
        // slice, which needs > 128 registers (spills at 2 blocks per SM); by 2 it uses 122.
#pragma unroll 2
        for (int kk = 0; kk < BK; ++kk) {
            float a[TM], bv[TM];
#pragma unroll
            for (int h = 0; h < STRIPS; ++h) {
                // Strip h covers rows h*64 + ty*4 .. +3 (columns h*64 + tx*4 .. +3).
                const float4 av = *reinterpret_cast<const float4*>(&As[buf][kk][h * 64 + ty * 4]);
                const float4 bw = *reinterpret_cast<const float4*>(&Bs[buf][kk][h * 64 + tx * 4]);
                a[h * 4 + 0] = av.x;
                a[h * 4 + 1] = av.y;
                a[h * 4 + 2] = av.z;
                a[h * 4 + 3] = av.w;
                bv[h * 4 + 0] = bw.x;
                bv[h * 4 + 1] = bw.y;
                bv[h * 4 + 2] = bw.z;
                bv[h * 4 + 3] = bw.w;
            }
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TM; ++j) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
        }
        if (has_next) {
            // Nobody reads buf ^ 1 any more: every thread passed the barrier that ended the
            // previous slice (which read buf ^ 1) before reaching this point.
            stash_slice<BM, BK, A_K_FAST>(As[buf ^ 1], a_next, tid);
            stash_slice<BM, BK, B_K_FAST>(Bs[buf ^ 1], b_next, tid);
            __syncthreads();
            buf ^= 1;
        }
    }

    // Register micro-tile index i = h*4 + r maps to row m0 + h*64 + ty*4 + r; same for columns.
    const bool c_vec = (ldc % 4 == 0) && aligned16(C);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = m0 + (i / 4) * 64 + ty * 4 + (i % 4);
        if (m < M) {
            float* crow = C + (long long)m * ldc;
#pragma unroll
            for (int h = 0; h < STRIPS; ++h) {
                const int n = n0 + h * 64 + tx * 4;
                store4(crow, n, N, c_vec, acc[i][h * 4 + 0], acc[i][h * 4 + 1],
                       acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
            }
        }
    }
}

// Entry points: sgemm_{large,small}_{nn,nt,tn,tt}. Arguments (all layouts):
//   A, B, C, M, N, K, lda, ldb, ldc (int32), stride_a, stride_b, stride_c (int64, elements
//   between batch items; 0 broadcasts an operand).
// Launch: block (256, 1, 1); grid (ceil(M / BM), ceil(N / BM), batch) with batch <= 65535
// (the host launches larger batches in chunks). Requires M, N, batch >= 1; K may be 0.
#define SGEMM_ENTRY(NAME, BM, BK, TM, TA, TB)                                                    \
    extern "C" __global__ void __launch_bounds__(SGEMM_THREADS, (TM == 8 ? 2 : 3))              \
    NAME(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int M, \
         int N, int K, int lda, int ldb, int ldc, long long stride_a, long long stride_b,        \
         long long stride_c) {                                                                  \
        sgemm_body<BM, BK, TM, TA, TB>(A, B, C, M, N, K, lda, ldb, ldc, stride_a, stride_b,      \
                                       stride_c);                                                \
    }

SGEMM_ENTRY(sgemm_large_nn, 128, 8, 8, false, false)
SGEMM_ENTRY(sgemm_large_nt, 128, 8, 8, false, true)
SGEMM_ENTRY(sgemm_large_tn, 128, 8, 8, true, false)
SGEMM_ENTRY(sgemm_large_tt, 128, 8, 8, true, true)
SGEMM_ENTRY(sgemm_small_nn, 64, 16, 4, false, false)
SGEMM_ENTRY(sgemm_small_nt, 64, 16, 4, false, true)
SGEMM_ENTRY(sgemm_small_tn, 64, 16, 4, true, false)
SGEMM_ENTRY(sgemm_small_tt, 64, 16, 4, true, true)
