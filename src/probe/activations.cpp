#include "probe/activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/safetensors.h"
#include "model/moe_model.h"
#include "synth/rng.h"
#include "util/error.h"
#include "util/parallel_for.h"

namespace moeprobe {

namespace fs = std::filesystem;

int64_t ProbeInfo::bos_count() const {
  int64_t n = 0;
  for (uint8_t b : bos_mask) n += b ? 1 : 0;
  return n;
}

std::vector<int64_t> ProbeInfo::token_indices(bool exclude_bos) const {
  std::vector<int64_t> out;
  for (int64_t t = 0; t < tokens; ++t)
    if (!exclude_bos || bos_mask.empty() || !bos_mask[static_cast<std::size_t>(t)])
      out.push_back(t);
  return out;
}

nlohmann::json ProbeInfo::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"source", source},
                      {"synthetic", synthetic},
                      {"tokens", tokens},
                      {"bos_tokens", bos_count()},
                      {"sequences", static_cast<int64_t>(sequence_starts.size())}};
  if (synthetic) j["seed"] = seed;
  if (!model.empty()) j["model"] = model;
  if (!tokenizer.empty()) j["tokenizer"] = tokenizer;
  return j;
}

ProbeActivations::~ProbeActivations() = default;

namespace {

// A rank-1 integer tensor of `n` elements (n < 0: any length), read into int64.
std::vector<int64_t> read_index_tensor(const SafetensorsFile& f, const std::string& name, int64_t n,
                                       bool required) {
  const std::string file = f.path().string();
  const TensorEntry* e = f.find(name);
  if (!e) {
    if (required) throw InputError(file, name, "missing (expected an I64 tensor)");
    return {};
  }
  if (e->shape.size() != 1 || (n >= 0 && e->shape[0] != n))
    throw InputError(file, name,
                     "expected shape [" + (n >= 0 ? std::to_string(n) : std::string("S")) +
                         "], got " + f.view(*e).shape_string());
  const TensorView v = f.view(*e);
  std::vector<int64_t> out(static_cast<std::size_t>(v.numel()));
  switch (v.dtype) {
    case DType::I64:
      std::memcpy(out.data(), v.data, out.size() * 8);
      break;
    case DType::I32:
      for (std::size_t i = 0; i < out.size(); ++i) {
        int32_t x;
        std::memcpy(&x, v.data + i * 4, 4);
        out[i] = x;
      }
      break;
    default:
      throw InputError(file, name, std::string("expected dtype I64, got ") + dtype_name(v.dtype));
  }
  return out;
}

}  // namespace

std::unique_ptr<ProbeActivations> ProbeActivations::open(const fs::path& path, int64_t hidden,
                                                         const std::vector<int>& layers) {
  std::unique_ptr<ProbeActivations> p(new ProbeActivations());
  p->file_ = std::make_unique<SafetensorsFile>(path);
  const SafetensorsFile& f = *p->file_;
  const std::string file = path.string();
  const auto& meta = f.metadata();
  auto it = meta.find("moeprobe_activations");
  if (it == meta.end())
    throw InputError(file, "__metadata__.moeprobe_activations",
                     "missing: not a moeprobe activations file (expected \"1\")");
  if (it->second != "1")
    throw InputError(file, "__metadata__.moeprobe_activations",
                     "unsupported version \"" + it->second + "\" (expected \"1\")");
  ProbeInfo& info = p->info_;
  info.source = file;
  info.hidden = hidden;
  auto meta_of = [&](const char* key) {
    auto m = meta.find(key);
    return m == meta.end() ? std::string() : m->second;
  };
  info.name = meta_of("probe");
  if (info.name.empty()) info.name = path.filename().string();
  info.model = meta_of("model");
  info.tokenizer = meta_of("tokenizer");

  // Every layer the file holds is validated (shape, dtype, token count, finite values); the
  // layers the run reads must be among them.
  int64_t T = -1;
  const std::string prefix = "layers.", suffix = ".moe_input";
  for (const TensorEntry& e : f.entries()) {
    const std::string& name = e.name;
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string index =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos ||
        index.size() > 6)
      throw InputError(file, name, "expected layers.{L}.moe_input with a decoder layer index L");
    const int L = std::stoi(index);
    const TensorView v = f.view(e);
    if (!dtype_is_float(v.dtype))
      throw InputError(file, name, std::string("expected dtype F32, got ") + dtype_name(v.dtype));
    if (v.rank() != 2 || v.dim(1) != hidden)
      throw InputError(file, name,
                       "expected shape [tokens, " + std::to_string(hidden) +
                           "] (the model's hidden size), got " + v.shape_string());
    if (T < 0) T = v.dim(0);
    if (v.dim(0) != T)
      throw InputError(file, name,
                       "expected " + std::to_string(T) + " tokens like the other layers, got " +
                           v.shape_string());
    if (T == 0) throw InputError(file, name, "no tokens (expected T > 0)");
    // Finite values: scanned in row blocks (the file stays mapped, nothing is copied).
    std::vector<float> buf(static_cast<std::size_t>(std::min<int64_t>(T, 256) * hidden));
    for (int64_t t0 = 0; t0 < T; t0 += 256) {
      const int64_t nb = std::min<int64_t>(256, T - t0);
      v.read_float(t0 * hidden, nb * hidden, buf.data());
      for (int64_t k = 0; k < nb * hidden; ++k)
        if (!std::isfinite(buf[static_cast<std::size_t>(k)]))
          throw InputError(file, name,
                           "non-finite value at token " + std::to_string(t0 + k / hidden) +
                               ", element " + std::to_string(k % hidden));
    }
    p->views_.emplace(L, v);
  }
  for (int L : layers)
    if (!p->views_.count(L))
      throw InputError(file, "layers." + std::to_string(L) + ".moe_input",
                       "missing: the run needs the MoE input of decoder layer " +
                           std::to_string(L) + " (capture every MoE layer the suite reads)");
  if (p->views_.empty())
    throw InputError(file, "layers.{L}.moe_input", "no layer activations in the file");
  if (T < 0) {
    // No layer asked for: take the token count from token_ids.
    const TensorEntry* ids = f.find("token_ids");
    T = ids && ids->shape.size() == 1 ? ids->shape[0] : 0;
  }
  info.tokens = T;
  info.token_ids = read_index_tensor(f, "token_ids", T, true);
  info.sequence_starts = read_index_tensor(f, "sequence_starts", -1, true);
  const auto& ss = info.sequence_starts;
  if (ss.empty() || ss[0] != 0)
    throw InputError(file, "sequence_starts", "expected ascending offsets starting at 0");
  for (std::size_t i = 1; i < ss.size(); ++i)
    if (ss[i] <= ss[i - 1] || ss[i] >= T)
      throw InputError(file, "sequence_starts",
                       "expected strictly ascending offsets below " + std::to_string(T) + ", got " +
                           std::to_string(ss[i]) + " at position " + std::to_string(i));
  const TensorEntry* bos = f.find("bos_mask");
  if (!bos) throw InputError(file, "bos_mask", "missing (expected a U8 tensor of [tokens])");
  const TensorView bv = f.view(*bos);
  if ((bv.dtype != DType::U8 && bv.dtype != DType::BOOL) || bv.rank() != 1 || bv.dim(0) != T)
    throw InputError(file, "bos_mask",
                     "expected U8 [" + std::to_string(T) + "], got " + dtype_name(bv.dtype) + " " +
                         bv.shape_string());
  info.bos_mask.assign(bv.data, bv.data + T);
  for (uint8_t& b : info.bos_mask) {
    if (b > 1) throw InputError(file, "bos_mask", "expected values 0 or 1");
  }
  return p;
}

std::unique_ptr<ProbeActivations> ProbeActivations::synthetic(const MoeModel& model, int64_t tokens,
                                                              uint64_t seed, int sequences,
                                                              bool mark_bos) {
  if (tokens < 1)
    throw InputError("", "probe.tokens", "a synthetic probe needs at least one token");
  if (sequences < 1 || sequences > tokens)
    throw InputError(
        "", "probe.sequences",
        "expected 1.." + std::to_string(tokens) + " sequences, got " + std::to_string(sequences));
  std::unique_ptr<ProbeActivations> p(new ProbeActivations());
  ProbeInfo& info = p->info_;
  info.name = kSyntheticProbeName;
  info.source = "synthetic";
  info.synthetic = true;
  info.seed = seed;
  info.tokens = tokens;
  info.hidden = model.config().hidden_size;
  info.bos_mask.assign(static_cast<std::size_t>(tokens), 0);
  for (int s = 0; s < sequences; ++s) {
    const int64_t start = tokens * s / sequences;
    info.sequence_starts.push_back(start);
    if (mark_bos) info.bos_mask[static_cast<std::size_t>(start)] = 1;
  }
  const int64_t H = info.hidden;
  const DenseTensorNames& names = model.family().dense;
  auto extra = names.extra.find("pre_moe_norm");  // Grok: the MoE input is pre_moe_norm(h)
  const std::string pattern =
      extra != names.extra.end() ? extra->second : names.post_attention_norm;
  for (int L : model.config().moe_layers) {
    std::vector<float> w(static_cast<std::size_t>(H), 1.0f);
    const std::string name = pattern.empty() ? std::string() : expand_pattern(pattern, L);
    if (!name.empty() && model.checkpoint().has(name)) {
      const TensorView v = model.checkpoint().tensor(name);
      if (v.numel() != H || !dtype_is_float(v.dtype))
        throw InputError(model.checkpoint().shard_of(name).string(), name,
                         "expected a float norm weight of " + std::to_string(H) +
                             " elements, got " + v.shape_string());
      v.read_float(0, H, w.data());
    }
    p->norm_weight_.emplace(L, std::move(w));
  }
  return p;
}

bool ProbeActivations::has_layer(int decoder_layer) const {
  return info_.synthetic ? norm_weight_.count(decoder_layer) > 0 : views_.count(decoder_layer) > 0;
}

LayerActivations ProbeActivations::layer(int L) const {
  LayerActivations out;
  out.layer = L;
  if (!info_.synthetic) {
    auto it = views_.find(L);
    if (it == views_.end())
      throw std::logic_error("activations of decoder layer " + std::to_string(L) +
                             " were not validated at open");
    out.x = it->second;
    return out;
  }
  auto it = norm_weight_.find(L);
  if (it == norm_weight_.end())
    throw std::logic_error("synthetic probe: decoder layer " + std::to_string(L) +
                           " is not an MoE layer");
  const int64_t T = info_.tokens, H = info_.hidden;
  auto data = std::make_shared<std::vector<float>>(static_cast<std::size_t>(T * H));
  const uint64_t key = synth::stream_key(info_.seed, "probe.gaussian.layers." + std::to_string(L));
  const std::vector<float>& w = it->second;
  // Every token has its own stream: the data does not depend on the thread count.
  parallel_for(T, default_threads(), [&](int64_t t) {
    float* row = data->data() + t * H;
    synth::fill_normal(key, static_cast<uint64_t>(t), synth::NormalKind::Exact, 1.0f, row, H);
    for (int64_t h = 0; h < H; ++h) row[h] *= w[static_cast<std::size_t>(h)];
  });
  out.x.name = "synthetic.layers." + std::to_string(L) + ".moe_input";
  out.x.file = "synthetic gaussian probe";
  out.x.dtype = DType::F32;
  out.x.shape = {T, H};
  out.x.data = reinterpret_cast<const unsigned char*>(data->data());
  out.owned = std::move(data);
  return out;
}

}  // namespace moeprobe
