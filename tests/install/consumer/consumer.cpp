// Runs a suite on a checkpoint through the installed library and writes its reports: the
// embedding path of the README's Install section. Usage: consumer SUITE.yaml MODEL_DIR OUT_DIR
#include <iostream>

#include <moeprobe/moeprobe.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: consumer SUITE.yaml MODEL_DIR OUT_DIR\n";
    return 2;
  }
  try {
    const moeprobe::Suite suite = moeprobe::load_suite(argv[1], moeprobe::find_metric);
    moeprobe::RunOptions options;
    options.model_dir = argv[2];
    options.device = "cpu";
    const moeprobe::RunResult result = moeprobe::run_suite(suite, options);
    moeprobe::write_reports(result, argv[3], moeprobe::parse_report_formats("json,md"));
    std::cout << "consumer: " << result.hypotheses.size() << " hypotheses judged\n";
    return result.hypotheses.empty() ? 1 : 0;
  } catch (const moeprobe::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
