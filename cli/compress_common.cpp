// compress_common.cpp: calibration ids and output directories for the
// compression subcommands (see compress_common.h).
#include "cli/compress_common.h"

#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "cli/flag_checks.h"
#include "tokenizer/tokenizer.h"
#include "util/file_util.h"

namespace cpurich::cli {

std::vector<int32_t> calibration_ids(const std::string& model_dir, const std::string& calib) {
  if (calib.empty()) return {};
  const auto tokenizer = load_tokenizer_from_dir(model_dir);
  std::vector<int32_t> ids = tokenizer->encode(read_text_input("--calib", calib));
  if (ids.size() < 2)
    throw std::invalid_argument("calibration text " + calib + " encodes to fewer than 2 tokens");
  return ids;
}

void refuse_output_over_model(const std::string& model_dir, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::equivalent(model_dir, out, ec))
    throw std::invalid_argument("--out " + out + " is the --model directory; choose another");
}

void save_compressed(const GPT& model, const std::string& model_dir, const std::string& out) {
  save_model(model, out);
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = load_tokenizer_from_dir(model_dir);
  } catch (const std::exception&) {
    return;  // a model directory without a tokenizer: ids only
  }
  save_tokenizer(*tok, (std::filesystem::path(out) / "tokenizer.json").string());
}

}  // namespace cpurich::cli
