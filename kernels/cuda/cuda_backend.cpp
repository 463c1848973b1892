// CudaBackend: host orchestration of the CUDA primitives.
//
// Inputs are host mmap views. Their bytes go to the GPU through two pinned staging buffers: while
// the copy stream moves chunk c+1 from pinned memory to the device, the compute stream converts
// and reduces chunk c, and the host thread fills the other pinned buffer from the mmap. Events
// order the three: a pinned buffer is refilled only after its copy finished, and a device staging
// buffer is overwritten only after the conversion kernel that read it finished. Conversion to
// float happens on the device; all accumulators are float64 and live on the device until the
// end of a call.
#include "kernels/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/backend_checks.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "util/error.h"
#include "util/parallel_for.h"

namespace moeprobe {
namespace {

std::size_t round_up(std::size_t v, std::size_t to) {
  return (v + to - 1) / to * to;
}

// Device memory that only grows; reused across calls so repeated analyses do not pay cudaMalloc.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }
  void* ensure(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      MOEPROBE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <typename T>
  T* as(std::size_t count) {
    return static_cast<T*>(ensure(std::max<std::size_t>(count, 1) * sizeof(T)));
  }
  std::size_t capacity() const { return bytes_; }
  void release() {
    if (ptr_) cudaFree(ptr_);  // no throw: also runs in destructors
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Page-locked host memory (needed for asynchronous copies); pinning is slow, so it also grows only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { release(); }
  unsigned char* ensure(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      void* p = nullptr;
      MOEPROBE_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
      ptr_ = static_cast<unsigned char*>(p);
      bytes_ = bytes;
    }
    return ptr_;
  }
  void release() {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  unsigned char* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// One contiguous piece of a chunk: `bytes` from `src` (the mmap) to `offset` in the staging buffer.
struct Piece {
  std::size_t offset;
  const unsigned char* src;
  std::size_t bytes;
};

// Copies the pieces into dst with a few threads when there is enough to share: a single thread
// reading a cold mmap falls well short of the PCIe bandwidth the device copy could use.
void gather(unsigned char* dst, const std::vector<Piece>& pieces) {
  std::size_t total = 0;
  for (const Piece& p : pieces) total += p.bytes;
  constexpr std::size_t kPerThread = std::size_t{8} << 20;
  const std::size_t hw = static_cast<std::size_t>(default_threads());
  const std::size_t nthreads =
      std::min<std::size_t>({std::size_t{8}, hw, std::max<std::size_t>(1, total / kPerThread)});
  // Thread t copies bytes [t*total/nthreads, (t+1)*total/nthreads) of the concatenated pieces.
  auto copy_range = [&](std::size_t begin, std::size_t end) {
    std::size_t base = 0;
    for (const Piece& p : pieces) {
      const std::size_t lo = std::max(begin, base), hi = std::min(end, base + p.bytes);
      if (lo < hi) std::memcpy(dst + p.offset + (lo - base), p.src + (lo - base), hi - lo);
      base += p.bytes;
      if (base >= end) break;
    }
  };
  if (nthreads <= 1) {
    copy_range(0, total);
    return;
  }
  parallel_for(static_cast<int64_t>(nthreads), static_cast<int>(nthreads), [&](int64_t t) {
    const std::size_t k = static_cast<std::size_t>(t);
    copy_range(k * total / nthreads, (k + 1) * total / nthreads);
  });
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options) : options_(options) {
    if (options_.chunk_bytes < 256) options_.chunk_bytes = 256;
    MOEPROBE_CUDA_CHECK(cudaSetDevice(options_.device));
    cudaDeviceProp prop{};
    MOEPROBE_CUDA_CHECK(cudaGetDeviceProperties(&prop, options_.device));
    num_sms_ = prop.multiProcessorCount;
    int ratio = 0;
    MOEPROBE_CUDA_CHECK(cudaDeviceGetAttribute(&ratio, cudaDevAttrSingleToDoublePrecisionPerfRatio,
                                               options_.device));
    full_rate_fp64_ = ratio > 0 && ratio <= 2;
    std::string name = prop.name;
    if (name.rfind("NVIDIA", 0) != 0) name = "NVIDIA " + name;
    const double gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    device_ = name + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
              std::to_string(static_cast<long long>(gib + 0.5)) + " GiB)";

    MOEPROBE_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    MOEPROBE_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_stream_, cudaStreamNonBlocking));
    for (Slot& s : slots_) {
      MOEPROBE_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
      MOEPROBE_CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming));
      // Recorded once up front, so the first waits on them are satisfied at once.
      MOEPROBE_CUDA_CHECK(cudaEventRecord(s.copied, copy_stream_));
      MOEPROBE_CUDA_CHECK(cudaEventRecord(s.consumed, compute_stream_));
    }
    MOEPROBE_CUBLAS_CHECK(cublasCreate(&cublas_));
    MOEPROBE_CUBLAS_CHECK(cublasSetStream(cublas_, compute_stream_));
    // Default math: no TF32 down-conversion of float32 products (that needs an explicit opt-in).
    MOEPROBE_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }

  ~CudaBackend() override {
    cudaSetDevice(options_.device);
    if (copy_stream_) cudaStreamSynchronize(copy_stream_);
    if (compute_stream_) cudaStreamSynchronize(compute_stream_);
    if (cublas_) cublasDestroy(cublas_);
    for (Slot& s : slots_) {
      if (s.copied) cudaEventDestroy(s.copied);
      if (s.consumed) cudaEventDestroy(s.consumed);
    }
    if (copy_stream_) cudaStreamDestroy(copy_stream_);
    if (compute_stream_) cudaStreamDestroy(compute_stream_);
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override { return device_; }

  MatrixSetStats matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                  const MatrixSetRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    begin_call();
    return set_stats(mats, axis, request);
  }

  Matrix gram_rows(const TensorView& m) override {
    std::lock_guard<std::mutex> lock(mutex_);
    begin_call();
    check_matrix(m);
    // Row i of m as a [1, D] matrix: the Gram of the rows is the Gram of this set, and the set
    // pipeline streams it in chunks whatever its size.
    const int64_t n = m.rows(), d = m.cols();
    if (n == 0) return Matrix(0, 0);
    std::vector<TensorView> rows(static_cast<std::size_t>(n), m);
    for (int64_t i = 0; i < n; ++i) {
      TensorView& v = rows[static_cast<std::size_t>(i)];
      v.shape = {1, d};
      v.data = m.data ? m.data + static_cast<std::size_t>(i * d) * dtype_size(m.dtype) : nullptr;
    }
    MatrixSetRequest req;
    req.gram = true;
    Matrix g = set_stats(rows, NeuronAxis::Rows, req).gram;
    check_rows_finite(g, m);
    return g;
  }

  Matrix neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) override {
    std::lock_guard<std::mutex> lock(mutex_);
    begin_call();
    return cosine(a, b, axis);
  }

 private:
  struct Slot {
    PinnedBuffer host;
    DeviceBuffer dev;
    cudaEvent_t copied = nullptr;    // its host->device copy finished: the pinned buffer is free
    cudaEvent_t consumed = nullptr;  // the kernel reading dev finished: dev may be overwritten
  };

  // A previous call may have thrown with work in flight; settle it before buffers are resized.
  void begin_call() {
    MOEPROBE_CUDA_CHECK(cudaSetDevice(options_.device));
    MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
    MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));
    chunk_counter_ = 0;
  }

  void ensure_slots(std::size_t bytes) {
    // Growing frees the old buffers: nothing queued may still read them.
    if (slots_[0].dev.capacity() < bytes || slots_[1].dev.capacity() < bytes) {
      MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
      MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));
    }
    for (Slot& s : slots_) {
      s.host.ensure(bytes);
      s.dev.ensure(bytes);
    }
  }

  // Fills the next slot from the mmap and enqueues its copy; the compute stream waits for it.
  // Returns the slot index and its device pointer. Call consume() after the kernel that reads it.
  std::pair<int, const unsigned char*> stage(const std::vector<Piece>& pieces) {
    const int s = static_cast<int>(chunk_counter_++ % 2);
    Slot& slot = slots_[s];
    std::size_t span = 0;
    for (const Piece& p : pieces) span = std::max(span, p.offset + p.bytes);
    unsigned char* host = slot.host.ensure(span);
    auto* dev = static_cast<unsigned char*>(slot.dev.ensure(span));
    MOEPROBE_CUDA_CHECK(cudaEventSynchronize(slot.copied));
    gather(host, pieces);
    MOEPROBE_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, slot.consumed, 0));
    MOEPROBE_CUDA_CHECK(cudaMemcpyAsync(dev, host, span, cudaMemcpyHostToDevice, copy_stream_));
    MOEPROBE_CUDA_CHECK(cudaEventRecord(slot.copied, copy_stream_));
    MOEPROBE_CUDA_CHECK(cudaStreamWaitEvent(compute_stream_, slot.copied, 0));
    return {s, dev};
  }

  void consume(int s) { MOEPROBE_CUDA_CHECK(cudaEventRecord(slots_[s].consumed, compute_stream_)); }

  template <typename T>
  void download(T* host, const T* dev, std::size_t count) {
    if (count == 0) return;
    MOEPROBE_CUDA_CHECK(
        cudaMemcpyAsync(host, dev, count * sizeof(T), cudaMemcpyDeviceToHost, compute_stream_));
  }

  MatrixSetStats set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                           const MatrixSetRequest& request) {
    MatrixSetStats out;
    check_matrix_set(mats, axis);
    const int64_t n_mats = static_cast<int64_t>(mats.size());
    if (n_mats > 65535)
      throw InputError(
          mats[0].file, mats[0].name,
          "the CUDA backend takes at most 65535 matrices per set, got " + std::to_string(n_mats));
    const int n = static_cast<int>(n_mats);
    const int64_t rows = mats[0].rows(), cols = mats[0].cols(), numel = rows * cols;
    const int64_t h = axis == NeuronAxis::Rows ? cols : rows;        // neuron length
    const int64_t neurons = axis == NeuronAxis::Rows ? rows : cols;  // averaged over

    if (request.gram) out.gram = Matrix(n, n);
    if (request.standardized_gram) out.standardized_gram = Matrix(n, n);
    if (request.mean_neuron)
      out.mean_neuron.assign(static_cast<std::size_t>(n),
                             std::vector<double>(static_cast<std::size_t>(h), 0.0));
    if (numel == 0 || (!request.gram && !request.standardized_gram && !request.mean_neuron))
      return out;

    // Chunk = `len` consecutive elements of every matrix. The mean neurons need whole rows in a
    // chunk (column c of a chunk is column c of the matrix); the Grams take any split.
    std::vector<std::size_t> esize(static_cast<std::size_t>(n));
    std::vector<int> codes(static_cast<std::size_t>(n));
    std::size_t sum_esize = 0, max_esize = 0;
    bool uniform = true;
    for (int r = 0; r < n; ++r) {
      esize[r] = dtype_size(mats[r].dtype);
      codes[r] = static_cast<int>(mats[r].dtype);
      sum_esize += esize[r];
      max_esize = std::max(max_esize, esize[r]);
      uniform = uniform && codes[r] == codes[0];
    }
    const int64_t unit = request.mean_neuron ? cols : 1;
    int64_t len = static_cast<int64_t>(options_.chunk_bytes / sum_esize) / unit * unit;
    len = std::min(std::max(len, unit), numel);
    const std::size_t stride = round_up(static_cast<std::size_t>(len) * max_esize, 256);

    ensure_slots(stride * static_cast<std::size_t>(n));
    float* X = x_buf_.as<float>(static_cast<std::size_t>(n) * len);
    float* Z =
        request.standardized_gram ? z_buf_.as<float>(static_cast<std::size_t>(n) * len) : nullptr;
    double* partial = partial_buf_.as<double>(cuda::gram_partial_doubles(n, num_sms_));
    const std::size_t nn = static_cast<std::size_t>(n) * n;
    double* acc_gram = gram_buf_.as<double>(nn);
    double* acc_std = std_buf_.as<double>(nn);
    double* sums = sums_buf_.as<double>(static_cast<std::size_t>(n) * h);
    auto* skipped = skipped_buf_.as<unsigned long long>(1);
    int* dev_codes = nullptr;
    if (!uniform) {
      dev_codes = codes_buf_.as<int>(codes.size());
      MOEPROBE_CUDA_CHECK(cudaMemcpyAsync(dev_codes, codes.data(), codes.size() * sizeof(int),
                                          cudaMemcpyHostToDevice, compute_stream_));
    }
    MOEPROBE_CUDA_CHECK(cudaMemsetAsync(acc_gram, 0, nn * sizeof(double), compute_stream_));
    MOEPROBE_CUDA_CHECK(cudaMemsetAsync(acc_std, 0, nn * sizeof(double), compute_stream_));
    MOEPROBE_CUDA_CHECK(cudaMemsetAsync(sums, 0, static_cast<std::size_t>(n) * h * sizeof(double),
                                        compute_stream_));
    MOEPROBE_CUDA_CHECK(cudaMemsetAsync(skipped, 0, sizeof(unsigned long long), compute_stream_));

    std::vector<Piece> pieces(static_cast<std::size_t>(n));
    for (int64_t f0 = 0; f0 < numel; f0 += len) {
      const int64_t clen = std::min(len, numel - f0);
      for (int r = 0; r < n; ++r)
        pieces[r] = {static_cast<std::size_t>(r) * stride,
                     mats[r].data + static_cast<std::size_t>(f0) * esize[r],
                     static_cast<std::size_t>(clen) * esize[r]};
      const auto [slot, raw] = stage(pieces);
      cuda::launch_convert_to_float(raw, stride, dev_codes, codes[0], n, clen, X, len,
                                    compute_stream_);
      consume(slot);  // X holds the chunk now; the raw slot can take the chunk after next
      if (request.gram)
        cuda::launch_gram_accumulate(X, len, n, clen, partial, acc_gram, num_sms_, compute_stream_);
      if (request.standardized_gram) {
        cuda::launch_standardize(X, len, n, clen, Z, skipped, compute_stream_);
        cuda::launch_gram_accumulate(Z, len, n, clen, partial, acc_std, num_sms_, compute_stream_);
      }
      if (request.mean_neuron) {
        const int64_t chunk_rows = clen / cols, row0 = f0 / cols;
        if (axis == NeuronAxis::Rows)
          cuda::launch_column_sums(X, len, n, chunk_rows, cols, sums, compute_stream_);
        else
          cuda::launch_row_sums(X, len, n, chunk_rows, cols, sums + row0, h, compute_stream_);
      }
    }

    std::vector<double> host_gram(request.gram ? nn : 0),
        host_std(request.standardized_gram ? nn : 0);
    std::vector<double> host_sums(request.mean_neuron ? static_cast<std::size_t>(n) * h : 0);
    unsigned long long host_skipped = 0;
    download(host_gram.data(), acc_gram, host_gram.size());
    download(host_std.data(), acc_std, host_std.size());
    download(host_sums.data(), sums, host_sums.size());
    if (request.standardized_gram) download(&host_skipped, skipped, 1);
    MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));

    // The kernels fill the upper triangle; mirror it so the result is exactly symmetric.
    auto symmetric = [n](const std::vector<double>& acc, Matrix& m) {
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b)
          m(a, b) = acc[static_cast<std::size_t>(std::min(a, b)) * n + std::max(a, b)];
    };
    if (request.gram) {
      symmetric(host_gram, out.gram);
      check_gram_finite(out.gram, mats);
    }
    if (request.standardized_gram) {
      symmetric(host_std, out.standardized_gram);
      out.skipped_positions = static_cast<int64_t>(host_skipped);
    }
    if (request.mean_neuron)
      for (int r = 0; r < n; ++r)
        for (int64_t j = 0; j < h; ++j)
          out.mean_neuron[r][j] = host_sums[static_cast<std::size_t>(r) * h + j] / neurons;
    return out;
  }

  // Streams a whole tensor to the device converted to T (float or double).
  template <typename T>
  void upload(const TensorView& v, T* dst) {
    const std::size_t esize = dtype_size(v.dtype);
    const int64_t numel = v.numel();
    const int64_t len =
        std::min(std::max<int64_t>(1, static_cast<int64_t>(options_.chunk_bytes / esize)), numel);
    ensure_slots(round_up(static_cast<std::size_t>(len) * esize, 256));
    for (int64_t f0 = 0; f0 < numel; f0 += len) {
      const int64_t clen = std::min(len, numel - f0);
      const auto [slot, raw] = stage({Piece{0, v.data + static_cast<std::size_t>(f0) * esize,
                                            static_cast<std::size_t>(clen) * esize}});
      if constexpr (std::is_same_v<T, double>)
        cuda::launch_convert_to_double(raw, static_cast<int>(v.dtype), clen, dst + f0,
                                       compute_stream_);
      else
        cuda::launch_convert_to_float(raw, 0, nullptr, static_cast<int>(v.dtype), 1, clen, dst + f0,
                                      clen, compute_stream_);
      consume(slot);
    }
  }

  Matrix cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) {
    check_neuron_pair(a, b);  // one shape: the cosine matrix is I x I
    const bool by_rows = axis == NeuronAxis::Rows;
    const int64_t ia = by_rows ? a.rows() : a.cols(), ib = by_rows ? b.rows() : b.cols();
    const int64_t h = by_rows ? a.cols() : a.rows();
    Matrix out(ia, ib);
    if (ia == 0 || ib == 0) return out;
    const int64_t kIntMax = 2147483647;
    if (ia > kIntMax || ib > kIntMax || h > kIntMax)
      throw InputError(a.file, a.name, "matrix dimensions exceed the cuBLAS int range");
    bool f64 = options_.cosine_gemm == CudaBackendOptions::CosineGemm::Float64 ||
               (options_.cosine_gemm == CudaBackendOptions::CosineGemm::Auto && full_rate_fp64_);
    return f64 ? cosine_as<double>(a, b, by_rows, ia, ib, h, std::move(out))
               : cosine_as<float>(a, b, by_rows, ia, ib, h, std::move(out));
  }

  template <typename T>
  Matrix cosine_as(const TensorView& a, const TensorView& b, bool by_rows, int64_t ia, int64_t ib,
                   int64_t h, Matrix out) {
    T* A = cos_a_buf_.as<T>(static_cast<std::size_t>(ia * h));
    T* B = cos_b_buf_.as<T>(static_cast<std::size_t>(ib * h));
    double* inv_a = inv_a_buf_.as<double>(static_cast<std::size_t>(ia));
    double* inv_b = inv_b_buf_.as<double>(static_cast<std::size_t>(ib));
    upload<T>(a, A);
    upload<T>(b, B);
    // Unit neurons, then one product: cos(a_i, b_j) = <a_i / |a_i|, b_j / |b_j|>.
    cuda::launch_neuron_inv_norms<T>(A, a.rows(), a.cols(), by_rows, inv_a, compute_stream_);
    cuda::launch_neuron_inv_norms<T>(B, b.rows(), b.cols(), by_rows, inv_b, compute_stream_);
    cuda::launch_scale_neurons<T>(A, a.rows(), a.cols(), by_rows, inv_a, compute_stream_);
    cuda::launch_scale_neurons<T>(B, b.rows(), b.cols(), by_rows, inv_b, compute_stream_);

    // Output in blocks of rows of the I_a x I_b result so device memory stays bounded; each block
    // is a contiguous run of the row-major result, copied straight into `out`.
    constexpr std::size_t kBlockBytes = std::size_t{512} << 20;
    const int64_t block_rows = std::max<int64_t>(
        1, std::min<int64_t>(ia, static_cast<int64_t>(kBlockBytes / (sizeof(double) * ib))));
    T* C = cos_c_buf_.as<T>(static_cast<std::size_t>(block_rows * ib));
    double* C64 = nullptr;
    if constexpr (!std::is_same_v<T, double>)
      C64 = cos_c64_buf_.as<double>(static_cast<std::size_t>(block_rows * ib));
    const int m = static_cast<int>(ib), k = static_cast<int>(h);
    for (int64_t i0 = 0; i0 < ia; i0 += block_rows) {
      const int nb = static_cast<int>(std::min(block_rows, ia - i0));
      // cuBLAS is column-major: the row-major block out[i0 .. i0+nb, :] is the column-major
      // I_b x nb matrix C with C[j, i] = <b_j, a_(i0+i)>.
      //  by rows: a, b row-major [I, H] = column-major H x I (ld H), whose column i is neuron i:
      //           C = B^T (I_b x H) * A_block (H x nb), A_block starting at column i0.
      //  by cols: a, b row-major [H, I] = column-major I x H (ld I), whose row i is neuron i:
      //           C = B (I_b x H) * A_block^T (H x nb), A_block starting at row i0.
      const cublasOperation_t op_b = by_rows ? CUBLAS_OP_T : CUBLAS_OP_N;
      const cublasOperation_t op_a = by_rows ? CUBLAS_OP_N : CUBLAS_OP_T;
      const int ldb = by_rows ? k : m;
      const int lda = by_rows ? k : static_cast<int>(ia);
      const T* a_block = by_rows ? A + i0 * h : A + i0;
      if constexpr (std::is_same_v<T, double>) {
        const double one = 1.0, zero = 0.0;
        MOEPROBE_CUBLAS_CHECK(
            cublasDgemm(cublas_, op_b, op_a, m, nb, k, &one, B, ldb, a_block, lda, &zero, C, m));
        download(out.data.data() + i0 * ib, C, static_cast<std::size_t>(nb) * ib);
      } else {
        const float one = 1.0f, zero = 0.0f;
        // float32 inputs and float32 compute type: no TF32 rounding of the inputs.
        MOEPROBE_CUBLAS_CHECK(cublasGemmEx(cublas_, op_b, op_a, m, nb, k, &one, B, CUDA_R_32F, ldb,
                                           a_block, CUDA_R_32F, lda, &zero, C, CUDA_R_32F, m,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        cuda::launch_float_to_double(C, static_cast<int64_t>(nb) * ib, C64, compute_stream_);
        download(out.data.data() + i0 * ib, C64, static_cast<std::size_t>(nb) * ib);
      }
      // C is reused by the next block: wait for the copy out.
      MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));
    }
    return out;
  }

  CudaBackendOptions options_;
  std::string device_;
  int num_sms_ = 1;
  bool full_rate_fp64_ = false;
  cudaStream_t copy_stream_ = nullptr;
  cudaStream_t compute_stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Slot slots_[2];
  uint64_t chunk_counter_ = 0;
  DeviceBuffer x_buf_, z_buf_, partial_buf_, gram_buf_, std_buf_, sums_buf_, skipped_buf_,
      codes_buf_;
  DeviceBuffer cos_a_buf_, cos_b_buf_, inv_a_buf_, inv_b_buf_, cos_c_buf_, cos_c64_buf_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(std::string* why_not) {
  return make_cuda_backend(CudaBackendOptions{}, why_not);
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options,
                                           std::string* why_not) {
  auto fail = [why_not](std::string why) -> std::unique_ptr<Backend> {
    if (why_not) *why_not = std::move(why);
    return nullptr;
  };
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // reset the last-error state so later runtime calls start clean
    return fail(std::string("no CUDA device: cudaGetDeviceCount returned ") +
                cudaGetErrorString(err));
  }
  if (count == 0) return fail("no CUDA device: cudaGetDeviceCount returned 0 devices");
  if (options.device < 0 || options.device >= count)
    return fail("no CUDA device " + std::to_string(options.device) + ": " + std::to_string(count) +
                " device(s) present");
  try {
    return std::make_unique<CudaBackend>(options);
  } catch (const std::exception& e) {
    return fail(std::string("CUDA device unusable: ") + e.what());
  }
}

}  // namespace moeprobe
