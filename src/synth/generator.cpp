// synthesize(): resolve the recipe's model against its family, plan the tensors, stream them
// into a staging directory, add config.json, tokenizer files and synth.json, then rename the
// directory into place. Each step lives in its own file (synth_model, expert_generator,
// tensor_plan, tensor_stream, synth_config, manifest, staged_directory).
#include "synth/generator.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "synth/manifest.h"
#include "synth/staged_directory.h"
#include "synth/synth_config.h"
#include "synth/tensor_plan.h"
#include "synth/tensor_stream.h"
#include "synth/text_file.h"
#include "synth/tokenizer_files.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// The dense reference model "F" is written in the layout of its own family file.
Family load_reference_family(const Recipe& r, const fs::path& families_dir_in) {
  const std::string rf = r.path.string();
  const fs::path families_dir = families_dir_in.empty() ? default_families_dir() : families_dir_in;
  const fs::path ref_path = families_dir / (r.plant.reference_family + ".yaml");
  if (!fs::exists(ref_path))
    throw InputError(rf, "plant.upcycling.reference_family", "no family file " + ref_path.string());
  Family ref_fam = load_family(ref_path);
  if (ref_fam.dense.dense_act.empty())
    throw InputError(rf, "plant.upcycling.reference_family",
                     "family " + ref_fam.name + " names no dense FFN tensors (dense.dense_act)");
  return ref_fam;
}

// Refuses before anything is written: above the cap, or above the free space of the target's
// file system, with the estimate in the message.
void check_output_size(const SynthModel& m, const fs::path& out_dir, uint64_t max_output_bytes,
                       const fs::path& target) {
  const Recipe& r = m.r;
  const std::string rf = r.path.string();
  const double estimate = estimate_tensor_bytes(m, r.dtype);
  if (estimate > double(max_output_bytes))
    throw InputError(rf, "model",
                     "the synthetic model would take about " + gigabytes(estimate) +
                         " (estimate), above the limit of " + gigabytes(double(max_output_bytes)) +
                         "; pass --max-output-gb to allow more");
  std::error_code space_ec;
  const fs::space_info space = fs::space(out_dir.parent_path(), space_ec);
  if (!space_ec && estimate > double(space.available))
    throw InputError(rf, "model",
                     "the synthetic model would take about " + gigabytes(estimate) +
                         " (estimate), but only " + gigabytes(double(space.available)) +
                         " are free where " + target.string() + " is written");
}

SynthResult write_model(const Recipe& r, const fs::path& out_dir, const fs::path& families_dir,
                        int threads, uint64_t max_output_bytes, const fs::path& target,
                        const std::function<void(const std::string&)>& progress) {
  const SynthModel m = resolve_model(r, load_recipe_family(r, families_dir), threads);
  const bool ref = r.plant.write_reference;
  const Family ref_fam = ref ? load_reference_family(r, families_dir) : Family{};
  check_output_size(m, out_dir, max_output_bytes, target);
  fs::create_directories(out_dir);

  ExpertGenerator gen(m);
  const std::vector<TensorJob> jobs = plan_tensors(m, gen, ref ? &ref_fam : nullptr);
  SynthResult result;
  result.out_dir = out_dir;
  result.tensor_bytes = write_tensors(m, jobs, out_dir, progress);

  const ojson config = model_config(m, m.fam, false);
  write_text(out_dir / "config.json", with_quantization(config, r.quant).dump(2) + "\n");
  write_tokenizer_files(out_dir);
  if (ref) {
    // load_recipe keeps reference_dir and the quantisation twin relative and inside the output.
    const fs::path ref_dir = out_dir / r.plant.reference_dir;
    write_text(ref_dir / "config.json", model_config(m, ref_fam, true).dump(2) + "\n");
    write_tokenizer_files(ref_dir);
  }
  if (!r.quant.twin.empty()) {
    const fs::path twin_dir = out_dir / r.quant.twin;
    ojson tc = config;
    tc["torch_dtype"] = "float32";
    write_text(twin_dir / "config.json", tc.dump(2) + "\n");
    write_tokenizer_files(twin_dir);
  }
  write_manifest(m, gen, out_dir, result);
  return result;
}

// --out must be absent, an empty directory or a model synth wrote before (it has synth.json):
// synth never replaces a directory of other files.
void check_output_target(const Recipe& r, const fs::path& out_dir) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out_dir, ec);
  if (ec || !fs::exists(st)) return;
  if (!fs::is_directory(st))
    throw InputError(out_dir.string(), "--out", "exists and is not a directory");
  if (!fs::is_empty(out_dir, ec) && !fs::exists(out_dir / "synth.json"))
    throw InputError(out_dir.string(), "--out",
                     "is a non-empty directory that synth did not write (no synth.json); "
                     "choose a new or empty directory");
  if (!r.path.empty() && is_inside(r.path, out_dir))
    throw InputError(out_dir.string(), "--out",
                     "holds the recipe " + r.path.string() + " itself; choose another directory");
}

}  // namespace

SynthResult synthesize(const Recipe& r, const fs::path& out_dir, const fs::path& families_dir,
                       int threads, uint64_t max_output_bytes,
                       const std::function<void(const std::string&)>& progress) {
  if (out_dir.empty()) throw InputError("<command line>", "--out", "empty output path");
  check_output_target(r, out_dir);
  StagedDirectory stage(out_dir);
  SynthResult result =
      write_model(r, stage.path(), families_dir, threads, max_output_bytes, out_dir, progress);
  stage.commit();
  result.out_dir = out_dir;
  for (const auto& e : fs::recursive_directory_iterator(out_dir))
    if (e.is_regular_file()) result.files.push_back(e.path());
  std::sort(result.files.begin(), result.files.end());
  return result;
}

}  // namespace moeprobe::synth
