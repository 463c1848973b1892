// The CUDA backend's staging plan (kernels/staged_views.h), checked on the host: for every view
// layout the backend meets (FP8 block-scaled and per-channel, MXFP4, their fused sub-views,
// gpt-oss's interleaved halves, strided plain views, transposed views) and chunkings that cut
// rows and scale blocks anywhere, the chunk is gathered from the planned pieces and decoded the
// way the device kernel does it (the same kernels/staged_decode.h functions, run here), and must
// equal TensorView::read_float bit for bit (read_double for the double decoding). Also: which
// bytes a chunk moves, and the bytes per element over PCIe of each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/staged_views.h"
#include "test_tensors.h"

namespace moeprobe {
namespace {

using staged::ArrayDesc;
using staged::Mode;

// The device kernel (kernels/cuda/convert.cu) on the host: array r of the chunk into out[r].
template <typename T>
void decode_like_device(const unsigned char* chunk, std::size_t n,
                        std::vector<std::vector<T>>& out) {
  for (std::size_t r = 0; r < n; ++r) {
    ArrayDesc d;
    std::memcpy(&d, chunk + r * sizeof(ArrayDesc), sizeof d);
    out[r].assign(static_cast<std::size_t>(d.count), std::nan(""));
    std::vector<int> hits(out[r].size(), 0);
    if (d.kind == staged::kPlain) {
      for (int64_t i = 0; i < d.count; ++i) {
        out[r][i] = std::is_same<T, double>::value
                        ? static_cast<T>(staged::load_element_double(chunk + d.codes, d.code, i))
                        : static_cast<T>(staged::load_element_float(chunk + d.codes, d.code, i));
        ++hits[i];
      }
    } else {
      for (int64_t j = 0; j < staged::chunk_rows(d); ++j) {
        const staged::ChunkRow row = staged::chunk_row(d, j);
        for (int64_t w = row.w0; w < row.w1; ++w) {
          ASSERT_GE(row.out + w, 0);
          ASSERT_LT(row.out + w, d.count);
          out[r][row.out + w] = staged::chunk_element<T>(chunk, d, row, w);
          ++hits[row.out + w];
        }
      }
    }
    for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << "element " << i;
  }
}

template <typename T>
bool same_value(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

// Streams the set in chunks of `chunk_bytes` (unit 1 or whole rows) and compares every chunk.
void check_set(const std::vector<TensorView>& views, std::size_t chunk_bytes, int64_t unit) {
  const staged::ChunkLayout layout = staged::chunk_layout(views, chunk_bytes, unit);
  const int64_t numel = views[0].numel();
  ASSERT_GT(layout.len, 0);
  ASSERT_EQ(layout.header % 256, 0u);
  ASSERT_EQ(layout.stride % 256, 0u);
  std::vector<ArrayDesc> descs;
  std::vector<staged::Piece> pieces;
  std::vector<unsigned char> chunk(layout.bytes(static_cast<int>(views.size())));
  std::vector<std::vector<float>> got(views.size());
  std::vector<std::vector<double>> got64(views.size());
  std::vector<float> want;
  std::vector<double> want64;
  for (int64_t f0 = 0; f0 < numel; f0 += layout.len) {
    const int64_t count = std::min(layout.len, numel - f0);
    if (f0 + layout.len < numel) {
      ASSERT_EQ(count % unit, 0);
    }
    staged::plan_chunk(views, layout, f0, count, descs, pieces);
    // Pieces stay inside their array's slot and never overlap.
    std::vector<char> used(chunk.size(), 0);
    for (const staged::Piece& p : pieces) {
      ASSERT_LE(p.offset + p.bytes, chunk.size());
      for (std::size_t b = p.offset; b < p.offset + p.bytes; ++b) ASSERT_EQ(used[b]++, 0);
    }
    std::fill(chunk.begin(), chunk.end(), 0xA5);  // bytes no piece wrote decode as garbage
    staged::gather(chunk.data(), pieces);
    decode_like_device<float>(chunk.data(), views.size(), got);
    decode_like_device<double>(chunk.data(), views.size(), got64);
    for (std::size_t r = 0; r < views.size(); ++r) {
      want.resize(static_cast<std::size_t>(count));
      want64.resize(want.size());
      views[r].read_float(f0, count, want.data());
      views[r].read_double(f0, count, want64.data());
      ASSERT_EQ(got[r].size(), want.size());
      for (int64_t i = 0; i < count; ++i) {
        ASSERT_TRUE(same_value(got[r][i], want[i]))
            << views[r].name << " element " << f0 + i << ": " << got[r][i] << " vs " << want[i];
        // Host-decoded views (float32 on the host) carry float values only.
        if (staged::stage_mode(views[r]) != Mode::HostF32) {
          ASSERT_TRUE(same_value(got64[r][i], want64[i]))
              << views[r].name << " element " << f0 + i << " (double)";
        }
      }
    }
  }
}

// Chunkings: tiny (many chunks, rows and blocks cut anywhere), a few rows, one chunk.
void check_chunkings(const std::vector<TensorView>& views) {
  for (std::size_t bytes : {std::size_t{7}, std::size_t{97}, std::size_t{997}, std::size_t{5000},
                            std::size_t{1} << 30}) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(bytes));
    check_set(views, bytes, 1);
    check_set(views, bytes, views[0].cols());  // whole rows, as the mean neurons need
  }
}

std::vector<float> values(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return test::gaussian(n, rng, 0.02f);
}

// [3, 45, 70] FP8 with 16x32 blocks: 45 rows leave a partial block in every expert, so the scale
// grid restarts mid-block; 70 columns leave a partial column block.
TEST(StagedViews, Fp8BlockSubViewsDecodeLikeTheCpuReader) {
  const int64_t E = 3, R = 45, C = 70;
  const auto t = test::fp8_block_tensor(values(E * R * C, 1), E, R, C, 16, 32);
  std::vector<TensorView> experts, slices, odd, even, rows;
  for (int64_t e = 0; e < E; ++e) {
    const TensorView m = t->view.index0(e);
    EXPECT_EQ(staged::stage_mode(m), Mode::RowRuns);
    experts.push_back(m);
    slices.push_back(m.slice0(5, 45));  // starts inside the first row block
    even.push_back(m.every0(0, 2));     // rows 0, 2, ..., 44
    odd.push_back(m.every0(1, 2).slice0(0, 22));
    rows.push_back(staged::row_as_matrix(m, 17 + e));
  }
  check_chunkings(experts);
  check_chunkings(slices);
  check_chunkings(even);
  check_chunkings(odd);
  check_chunkings(rows);
}

// Per-channel scales (fbgemm_fp8: one per row, here BF16) on E5M2 codes, every code but NaN/Inf.
TEST(StagedViews, Fp8PerChannelE5m2WithBf16Scales) {
  const int64_t E = 2, R = 13, C = 37;
  auto t =
      test::quant_tensor(QuantScheme::Fp8Block, DType::F8_E5M2, DType::BF16, E, R, C, 1, C, "pc");
  std::mt19937_64 rng(2);
  for (auto& b : t->codes) {
    do b = static_cast<unsigned char>(rng());
    while ((b & 0x7C) == 0x7C);
  }
  for (std::size_t i = 0; i < t->scales.size() / 2; ++i) {
    const uint16_t s = float_to_bf16(std::ldexp(1.0f + 0.01f * static_cast<float>(i), -7));
    std::memcpy(t->scales.data() + 2 * i, &s, 2);
  }
  check_chunkings({t->view.index0(0), t->view.index0(1)});
}

// Every FP8 code (NaN and subnormals included) and extreme scales: the device decoding and the
// CPU's (AVX2 included) agree bit for bit.
TEST(StagedViews, Fp8EveryCodeAndExtremeScales) {
  for (DType dt : {DType::F8_E4M3, DType::F8_E5M2}) {
    auto t = test::quant_tensor(QuantScheme::Fp8Block, dt, DType::F32, 0, 32, 64, 16, 16, "codes");
    for (std::size_t i = 0; i < t->codes.size(); ++i)
      t->codes[i] = static_cast<unsigned char>((i * 7) % 256);
    const float scales[8] = {1.0f, 0.0123f, std::ldexp(1.0f, -140), 3.0e38f, -2.5f,
                             0.5f, 1e-20f,  std::ldexp(1.0f, 101)};
    std::memcpy(t->scales.data(), scales, sizeof scales);
    check_chunkings({t->view});
  }
}

// gpt-oss: gate_up_proj [E, 2I, H] in MXFP4 with interleaved act/up rows (every0), down [E, H, I];
// E8M0 extremes (0: a subnormal factor, 255: NaN) included.
TEST(StagedViews, Mxfp4InterleavedHalvesAndExtremes) {
  const int64_t E = 3, I = 19, H = 96;
  const auto gu = test::mxfp4_tensor(values(E * 2 * I * H, 3), E, 2 * I, H, "gate_up");
  const auto dn = test::mxfp4_tensor(values(E * H * 64, 4), E, H, 64, "down");
  gu->scales[5] = 0;
  gu->scales[17] = 255;
  gu->scales[40] = 254;
  std::vector<TensorView> act, up, down;
  for (int64_t e = 0; e < E; ++e) {
    act.push_back(gu->view.index0(e).every0(0, 2));
    up.push_back(gu->view.index0(e).every0(1, 2));
    down.push_back(dn->view.index0(e));
    EXPECT_EQ(staged::stage_mode(act.back()), Mode::RowRuns);
    EXPECT_EQ(staged::stage_unit(act.back()), 2);
  }
  check_chunkings(act);
  check_chunkings(up);
  check_chunkings(down);
  // Quantised and plain arrays in one chunk (a dense FFN stored apart from its experts).
  const auto bf = test::make_tensor(values(I * H, 9), {I, H}, DType::BF16, "dense");
  check_chunkings({act[0], up[1], bf->view});
  // A transposed MXFP4 view is decoded on the host.
  const TensorView t = dn->view.index0(1).transposed();
  EXPECT_EQ(staged::stage_mode(t), Mode::HostF32);
  check_chunkings({t});
}

// Strided plain views go as raw rows; transposed views (Llama-4's fused experts) through the host.
TEST(StagedViews, StridedPlainAndTransposedViews) {
  const int64_t R = 30, C = 41;
  const auto bf = test::make_tensor(values(R * C, 5), {R, C}, DType::BF16, "bf16");
  const auto f8 = test::fp8_block_tensor(values(C * R, 6), 0, C, R, 16, 16, "fp8t");
  const TensorView strided = bf->view.every0(1, 3), transposed = f8->view.transposed();
  EXPECT_EQ(staged::stage_mode(bf->view), Mode::Raw);
  EXPECT_EQ(staged::stage_mode(strided), Mode::RowRuns);
  EXPECT_EQ(staged::stage_mode(transposed), Mode::HostF32);
  EXPECT_EQ(staged::stage_mode(bf->view.transposed()), Mode::HostF32);
  check_chunkings({bf->view.slice0(0, 10), strided});
  check_chunkings({transposed.slice0(0, 20), bf->view.slice0(0, 20)});
  check_chunkings({bf->view.transposed()});
  // A set mixing all three modes.
  check_chunkings({bf->view.slice0(0, 10), strided, bf->view.every0(2, 3)});
}

// What crosses PCIe: a contiguous FP8 chunk is its codes plus the scale rows it touches; an
// interleaved MXFP4 half is one run per row plus the scale rows from its first to its last.
TEST(StagedViews, ChunksMoveCodesAndTheScaleRowsTheyTouch) {
  const auto t = test::fp8_block_tensor(values(300 * 260, 7), 0, 300, 260, 128, 128);
  const staged::ArrayPlan p = staged::plan_array(t->view, 256, 100 * 260, 100 * 260);
  ASSERT_EQ(p.pieces.size(), 2u);
  EXPECT_EQ(p.pieces[0].offset, 256u);
  EXPECT_EQ(p.pieces[0].bytes, 26000u);
  EXPECT_EQ(p.pieces[0].src, t->codes.data() + 26000);
  EXPECT_EQ(p.pieces[1].offset, 256u + 26000u);  // 16-byte aligned after the codes
  EXPECT_EQ(p.pieces[1].bytes, 2u * 3u * 4u);    // rows 100-199: scale rows 0 and 1, 3 columns
  EXPECT_EQ(p.pieces[1].src, t->scales.data());
  EXPECT_EQ(p.desc.scale_row0, 0);
  EXPECT_EQ(p.bytes, 26024u);

  const auto gu = test::mxfp4_tensor(values(2 * 128 * 96, 8), 2, 128, 96, "gate_up");
  const TensorView up = gu->view.index0(1).every0(1, 2);  // stored rows 129, 131, ...
  const staged::ArrayPlan q = staged::plan_array(up, 0, 0, 10 * 96);
  ASSERT_EQ(q.pieces.size(), 11u);  // 10 row runs, not adjacent, and the scales
  for (int j = 0; j < 10; ++j) {
    EXPECT_EQ(q.pieces[j].bytes, 48u);
    EXPECT_EQ(q.pieces[j].src, gu->codes.data() + (129 + 2 * j) * 48);
  }
  EXPECT_EQ(q.pieces[10].src, gu->scales.data() + 129 * 3);
  EXPECT_EQ(q.pieces[10].bytes, 19u * 3u);  // stored rows 129..147
  EXPECT_EQ(q.desc.scale_row0, 129);
  EXPECT_THROW(staged::plan_array(up, 0, 1, 10), std::logic_error);  // odd nibble start

  // Bytes per element over PCIe.
  EXPECT_DOUBLE_EQ(staged::staged_bytes_per_element(t->view), 1.0 + 4.0 / (128 * 128));
  EXPECT_DOUBLE_EQ(staged::staged_bytes_per_element(gu->view.index0(0)), 0.5 + 1.0 / 32);
  EXPECT_DOUBLE_EQ(staged::staged_bytes_per_element(t->view.transposed()), 4.0);
}

// A DeepSeek-V3-shaped FP8 expert ([2048, 7168], 128x128 blocks) in the default 128 MiB chunks:
// 1.0002 bytes per element, against 2 for BF16 and 4 for the float32 the host used to send.
TEST(StagedViews, DeepSeekShapedFp8ExpertMovesAboutOneBytePerElement) {
  const int64_t R = 2048, C = 7168;
  auto t = test::quant_tensor(QuantScheme::Fp8Block, DType::F8_E4M3, DType::F32, 0, R, C, 128, 128,
                              "w1");
  const std::vector<TensorView> set = {t->view};
  const staged::ChunkLayout layout = staged::chunk_layout(set, std::size_t{128} << 20, C);
  std::size_t total = 0;
  for (int64_t f0 = 0; f0 < R * C; f0 += layout.len)
    total += staged::plan_array(t->view, 0, f0, std::min(layout.len, R * C - f0)).bytes;
  const double per_element = static_cast<double>(total) / static_cast<double>(R * C);
  EXPECT_LT(per_element, 1.001);
  EXPECT_GE(per_element, 1.0);
}

}  // namespace
}  // namespace moeprobe
