#include "io/quantization.h"

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

namespace {

bool is_f8(DType t) {
  return t == DType::F8_E4M3 || t == DType::F8_E5M2;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

std::string QuantConfig::describe() const {
  if (method.empty()) return "none";
  if (method == "fp8")
    return "fp8 (weight_block_size [" + std::to_string(block_rows) + ", " +
           std::to_string(block_cols) + "]" + (block_from_config ? "" : ", the default") + ")";
  return method;
}

QuantConfig read_quant_config(const nlohmann::json& config, const std::string& config_path) {
  QuantConfig q;
  q.config_path = config_path;
  if (!config.is_object() || !config.contains("quantization_config") ||
      config["quantization_config"].is_null())
    return q;
  const nlohmann::json& qc = config["quantization_config"];
  if (!qc.is_object())
    throw InputError(config_path, "quantization_config",
                     "expected an object, got " + json_excerpt(qc));
  if (!qc.contains("quant_method") || !qc["quant_method"].is_string())
    throw InputError(config_path, "quantization_config.quant_method",
                     "missing or not a string; expected fp8, fbgemm_fp8 or mxfp4");
  q.method = qc["quant_method"].get<std::string>();
  if (q.method != "fp8" && q.method != "fbgemm_fp8" && q.method != "mxfp4")
    throw InputError(config_path, "quantization_config.quant_method",
                     "'" + printable(q.method, 80) +
                         "': quantisation scheme not supported; moeprobe reads fp8 (block scales "
                         "W_scale_inv), fbgemm_fp8 (per-channel W_scale) and mxfp4 (gpt-oss "
                         "W_blocks/W_scales)");
  if (q.method == "fp8" && qc.contains("weight_block_size") && !qc["weight_block_size"].is_null()) {
    const nlohmann::json& b = qc["weight_block_size"];
    const bool ok = b.is_array() && b.size() == 2 && b[0].is_number_integer() &&
                    b[1].is_number_integer() && b[0].get<int64_t>() > 0 && b[1].get<int64_t>() > 0;
    if (!ok)
      throw InputError(config_path, "quantization_config.weight_block_size",
                       "expected two positive integers [rows, cols], got " + json_excerpt(b));
    q.block_rows = b[0].get<int64_t>();
    q.block_cols = b[1].get<int64_t>();
    q.block_from_config = true;
  }
  if (q.method == "fp8" && qc.contains("fmt") && qc["fmt"].is_string()) {
    const std::string fmt = qc["fmt"].get<std::string>();
    if (fmt != "e4m3" && fmt != "e5m2")
      throw InputError(config_path, "quantization_config.fmt",
                       "'" + fmt + "': expected e4m3 or e5m2");
  }
  return q;
}

std::string WeightInfo::format() const {
  switch (scheme) {
    case QuantScheme::None:
      return dtype_name(dtype);
    case QuantScheme::Fp8Block: {
      std::string block =
          block_rows == 1 ? "per row"
                          : "per " + std::to_string(block_rows) + "x" + std::to_string(block_cols);
      return std::string(dtype_name(dtype)) + " x " + dtype_name(scale_dtype) + " scale " + block;
    }
    case QuantScheme::Mxfp4:
      return "MXFP4 (E2M1 x E8M0 per 32)";
  }
  return "?";
}

bool has_weight(const Checkpoint& ckpt, const std::string& name) {
  return ckpt.has(name) || ckpt.has(name + "_blocks");
}

bool is_scale_companion(const Checkpoint& ckpt, const std::string& name) {
  for (const char* suffix : {"_scale_inv", "_scale", "_scales"})
    if (ends_with(name, suffix)) {
      const std::string base = name.substr(0, name.size() - std::string(suffix).size());
      if (std::string(suffix) == "_scales" ? ckpt.has(base + "_blocks") : ckpt.has(base))
        return true;
    }
  return false;
}

std::optional<WeightInfo> weight_info(const Checkpoint& ckpt, const std::string& name,
                                      const QuantConfig& q) {
  WeightInfo w;
  w.name = name;
  const std::string where_cfg =
      q.method.empty() ? "" : " (quantization_config " + q.describe() + ")";
  if (const TensorEntry* e = ckpt.entry(name)) {
    w.stored_name = name;
    w.shape = e->shape;
    w.dtype = e->dtype;
    if (!is_f8(e->dtype)) return w;  // unquantised (modules_to_not_convert, BF16 routers, ...)
    const std::string field = "tensor '" + name + "'";
    const TensorEntry* inv = ckpt.entry(name + "_scale_inv");
    const TensorEntry* per_channel = inv ? nullptr : ckpt.entry(name + "_scale");
    if (!inv && !per_channel) {
      if (q.method == "fp8" || q.method == "fbgemm_fp8")
        throw InputError(ckpt.shard_of(name).string(), field,
                         std::string(dtype_name(e->dtype)) + " weight of an FP8 checkpoint" +
                             where_cfg + ", but its scale tensor '" + name +
                             (q.method == "fp8" ? "_scale_inv" : "_scale") + "' is missing");
      return w;  // plain F8 values (no quantisation stated)
    }
    if (q.method == "mxfp4")
      throw InputError(ckpt.shard_of(name).string(), field,
                       "FP8 weight with scales in an mxfp4 checkpoint" + where_cfg +
                           ": mixed schemes are not supported");
    const TensorEntry& s = inv ? *inv : *per_channel;
    w.scheme = QuantScheme::Fp8Block;
    w.scale_name = s.name;
    w.scale_dtype = s.dtype;
    const std::string scheme = inv ? "FP8 block scales" + where_cfg : "FP8 per-channel scales";
    if (s.dtype != DType::F32 && s.dtype != DType::BF16 && s.dtype != DType::F16)
      throw InputError(ckpt.shard_of(s.name).string(), "tensor '" + s.name + "'",
                       std::string("dtype ") + dtype_name(s.dtype) +
                           ", expected F32, BF16 or F16 (" + scheme + " of '" + name + "')");
    if (e->shape.size() < 2)
      throw InputError(
          ckpt.shard_of(name).string(), field,
          "shape " + shape_str(e->shape) + ": " + scheme + " need a matrix (rank >= 2)");
    const std::size_t n = e->shape.size();
    const int64_t R = e->shape[n - 2], C = e->shape[n - 1];
    std::vector<int64_t> want(e->shape.begin(), e->shape.end() - 2);
    if (inv) {
      w.block_rows = q.block_rows;
      w.block_cols = q.block_cols;
      want.push_back(ceil_div(R, w.block_rows));
      want.push_back(ceil_div(C, w.block_cols));
    } else {
      // Per output channel: [.., R, 1] (or [.., R]); one scale for a whole row.
      w.block_rows = 1;
      w.block_cols = C;
      want.push_back(R);
      if (s.shape.size() == n) want.push_back(1);
    }
    if (s.shape != want)
      throw InputError(ckpt.shard_of(s.name).string(), "tensor '" + s.name + "'",
                       "shape " + shape_str(s.shape) + " does not tile the weight '" + name + "' " +
                           shape_str(e->shape) + " (" + scheme + ", block " +
                           std::to_string(w.block_rows) + "x" + std::to_string(w.block_cols) +
                           "); expected " + shape_str(want));
    return w;
  }
  const std::string blocks = name + "_blocks";
  const TensorEntry* b = ckpt.entry(blocks);
  if (!b) return std::nullopt;
  const std::string field = "tensor '" + blocks + "'";
  const std::string scheme = "MXFP4" + where_cfg;
  if (!q.method.empty() && q.method != "mxfp4")
    throw InputError(ckpt.shard_of(blocks).string(), field,
                     "MXFP4 blocks in a checkpoint whose quantization_config says " + q.describe());
  if (b->dtype != DType::U8 || b->shape.size() < 3 || b->shape.back() != 16)
    throw InputError(ckpt.shard_of(blocks).string(), field,
                     std::string("dtype ") + dtype_name(b->dtype) + ", shape " +
                         shape_str(b->shape) + ": expected U8 [..., rows, cols/32, 16] (" + scheme +
                         ")");
  const std::string scales = name + "_scales";
  const TensorEntry* s = ckpt.entry(scales);
  if (!s)
    throw InputError(ckpt.dir().string(), "tensor '" + scales + "'",
                     "missing; the " + scheme + " weight '" + blocks + "' needs its E8M0 scales");
  const std::vector<int64_t> want(b->shape.begin(), b->shape.end() - 1);
  if (s->dtype != DType::U8 || s->shape != want)
    throw InputError(ckpt.shard_of(scales).string(), "tensor '" + scales + "'",
                     std::string("dtype ") + dtype_name(s->dtype) + ", shape " +
                         shape_str(s->shape) + " does not tile '" + blocks + "' " +
                         shape_str(b->shape) + " (" + scheme + "); expected U8 " + shape_str(want));
  w.stored_name = blocks;
  w.shape = want;
  w.shape.back() *= 32;
  w.dtype = DType::U8;
  w.scheme = QuantScheme::Mxfp4;
  w.scale_name = scales;
  w.scale_dtype = DType::U8;
  w.block_rows = 1;
  w.block_cols = 32;
  return w;
}

TensorView open_weight(const Checkpoint& ckpt, const std::string& name, const QuantConfig& q) {
  const std::optional<WeightInfo> w = weight_info(ckpt, name, q);
  if (!w) return ckpt.tensor(name);  // throws: missing
  TensorView codes = ckpt.tensor(w->stored_name);
  if (w->scheme == QuantScheme::None) return codes;
  const TensorView scales = ckpt.tensor(w->scale_name);
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = w->scheme;
  s->name = w->stored_name;
  s->file = codes.file;
  s->code_dtype = w->dtype;
  s->codes = codes.data;
  const std::size_t n = w->shape.size();
  s->cols = w->shape[n - 1];
  s->rows_per_matrix = w->shape[n - 2];
  s->rows = 1;
  for (std::size_t k = 0; k + 1 < n; ++k) s->rows *= w->shape[k];
  s->scale_name = w->scale_name;
  s->scale_dtype = w->scale_dtype;
  s->scales = scales.data;
  s->block_rows = w->block_rows;
  s->block_cols = w->block_cols;
  s->scale_rows_per_matrix = ceil_div(s->rows_per_matrix, s->block_rows);
  s->scale_cols = ceil_div(s->cols, s->block_cols);

  TensorView plain_shape;  // row-major steps of the logical shape, then the storage
  plain_shape.name = name;
  plain_shape.file = codes.file;
  plain_shape.dtype = w->dtype;
  plain_shape.shape = w->shape;
  TensorView v = plain_shape.mapped();
  v.storage = std::move(s);
  return v;
}

}  // namespace moeprobe
