// 11_pruning: zero half the weights three ways, cut the rank, or round to 4
// bits: which loses least?
//
// What it teaches: post-training compression of every Linear W (out, in) of a
// trained GPT, each method through compress/:
//   magnitude  zero the smallest |W_ij| of each row; needs nothing but W.
//   Wanda      zero the smallest |W_ij| * ||X_j||: a small weight on a loud
//              input matters; ||X_j|| comes from calibration text.
//   SparseGPT  pick the mask with the Hessian H = X^T X and update the kept
//              weights of the row to make up for the removed ones (OBS).
//   2:4        the same three, but exactly 2 zeros in every group of 4 along
//              `in` (the pattern sparse tensor cores run fast).
//   rank r     W ~ U_r S_r V_r^T from the SVD (compress/lowrank.h): r (out +
//              in) numbers instead of out * in.
//   q4_0       round to 4 bits in blocks of 32 (lesson 10), 4.5 bits/weight.
// One table: bits per Linear weight (a sparse matrix stores its kept fp32
// values plus a 1-bit mask) and held-out loss. Calibration statistics are
// collected once from training text (compress/calibration.h).
//
// Pipeline position: trained model + calibration text -> [prune / low rank] -> smaller model.
// Exercise: .sparsity = 0.7; how far does magnitude fall behind SparseGPT?
// Run: build/release/lessons/11_pruning [--quick]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/calibration.h"
#include "compress/model.h"
#include "compress/prune.h"
#include "nn/evaluate.h"
#include "nn/quant_io.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;
namespace cx = cpurich::compress;

namespace {

GPT copy_of(const GPT& model) {
  GPT out(model.config(), 0);
  out.load_state_dict(model.state_dict());
  return out;
}

// True when every group of m weights along each row of every Linear holds at
// least n zeros.
bool has_n_of_m(const GPT& model, int64_t n, int64_t m) {
  for (const std::string& name : cx::linear_names(model.config())) {
    const Linear& lin = cx::find_linear(model, name);
    const int64_t in = lin.weight.value().size(0);  // Conv1D weight (in, out)
    const std::vector<double> w = cx::linear_weight_out_in(model, name);
    for (size_t g = 0; g < w.size(); g += static_cast<size_t>(m)) {
      int64_t zeros = 0;
      for (int64_t k = 0; k < m; ++k) zeros += w[g + static_cast<size_t>(k)] == 0.0 ? 1 : 0;
      if (zeros < n) return false;
    }
    if (in % m != 0) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    init_threads_from_env();
    // 1. A briefly trained model: 2 layers, 128 dims (64 in quick mode), on the world corpus.
    const world::World w = world::generate_world(world::WorldOptions{.people = quick ? 60 : 200});
    auto tok = std::make_unique<CharTokenizer>(CharTokenizer::train(w.corpus));
    const std::vector<int32_t> ids = tok->encode(w.corpus);
    TrainConfig cfg;
    cfg.n_layer = 2;
    cfg.n_head = 4;
    cfg.n_embd = quick ? 64 : 128;
    cfg.block_size = 64;
    cfg.batch_size = 8;
    cfg.max_iters = quick ? 400 : 1000;
    cfg.warmup_iters = cfg.max_iters / 10;
    cfg.learning_rate = 3e-3;
    cfg.min_lr = 3e-4;
    cfg.eval_every = cfg.max_iters;
    Trainer t(cfg, std::move(tok), ids, fnv1a64(w.corpus),
              TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
    while (!t.done()) t.step();
    const GPT& model = t.model();

    // 2. Held-out text (the last 10%) for the loss; calibration from the
    //    start of the training text: 32 sequences of the context length.
    const size_t n_val = std::min<size_t>(ids.size() / 10, quick ? 4000 : 20000);
    const std::span<const int32_t> val(ids.data() + ids.size() - n_val, n_val);
    const std::span<const int32_t> calib_ids(ids.data(), static_cast<size_t>(32 * cfg.block_size));
    const cx::Calibration cal = cx::collect_calibration(model, calib_ids, cfg.block_size);
    auto loss_of = [&](GPT& m) { return evaluate_ids(m, val, cfg.block_size).loss; };
    GPT dense = copy_of(model);
    const double loss_fp32 = loss_of(dense);

    // Linear weight counts, for bits per weight.
    int64_t n_lin = 0, n_lin_edges = 0;  // sum out*in, sum (out + in)
    for (const std::string& name : cx::linear_names(model.config())) {
      const Tensor& wt = cx::find_linear(model, name).weight.value();
      n_lin += wt.size(0) * wt.size(1);
      n_lin_edges += wt.size(0) + wt.size(1);
    }
    std::printf("trained %lld steps; %lld Linear weights; held-out loss %.4f (%zu tokens)\n\n",
                static_cast<long long>(cfg.max_iters), static_cast<long long>(n_lin), loss_fp32,
                n_val);
    std::printf("%-22s %9s %9s %10s %8s\n", "method", "sparsity", "bits/w", "loss", "dloss");
    auto row = [&](const std::string& name, double sparsity, double bits, double loss) {
      std::printf("%-22s %8.1f%% %9.2f %10.4f %7.2f%%\n", name.c_str(), 100.0 * sparsity, bits,
                  loss, 100.0 * (loss - loss_fp32) / loss_fp32);
    };
    row("fp32", 0.0, 32.0, loss_fp32);

    // 3. Pruning: three methods, unstructured 50% and 2:4.
    bool ok = true;
    double loss_mag50 = 0.0, loss_sgpt50 = 0.0;
    const std::pair<const char*, cx::PruneMethod> methods[] = {
        {"magnitude", cx::PruneMethod::Magnitude},
        {"wanda", cx::PruneMethod::Wanda},
        {"sparsegpt", cx::PruneMethod::SparseGPT}};
    for (const bool two_four : {false, true}) {
      for (const auto& [mname, method] : methods) {
        GPT m = copy_of(model);
        cx::PruneOptions o{.method = method, .sparsity = 0.5};
        if (two_four) cx::parse_prune_pattern("2:4", o);
        cx::prune_model(m, cal, o);
        const double sp = cx::linear_sparsity(m);
        const double loss = loss_of(m);
        // Kept weights in fp32 plus a 1-bit mask per weight.
        row(std::string(mname) + (two_four ? " 2:4" : " 50%"), sp, 32.0 * (1.0 - sp) + 1.0, loss);
        const bool exact = sp == 0.5 && (!two_four || has_n_of_m(m, 2, 4));
        if (!exact) {
          std::printf("  -> NOT the asked sparsity/pattern\n");
          ok = false;
        }
        if (!two_four && method == cx::PruneMethod::Magnitude) loss_mag50 = loss;
        if (!two_four && method == cx::PruneMethod::SparseGPT) loss_sgpt50 = loss;
      }
    }

    // 4. Low rank: r chosen so r (out + in) matches half the weights, and
    //    q4_0's 4.5 bits (in fp32 numbers).
    for (const double frac : {0.5, 4.5 / 32.0}) {
      const int64_t r =
          std::max<int64_t>(1, static_cast<int64_t>(std::lround(frac * static_cast<double>(n_lin) /
                                                                static_cast<double>(n_lin_edges))));
      GPT m = copy_of(model);
      cx::lowrank_model(m, r);
      row("rank " + std::to_string(r), 0.0,
          32.0 * static_cast<double>(r * n_lin_edges) / static_cast<double>(n_lin), loss_of(m));
    }

    // 5. 4-bit: q4_0 on the same Linears (embeddings stay fp32, as above).
    {
      std::map<std::string, Tensor> sd = model.state_dict();
      const auto q = quantize_model(model, QuantizeOptions{.format = QuantFormat::Q4_0});
      int64_t bytes = 0, weights = 0;
      for (const std::string& name : cx::linear_names(model.config())) {
        const auto it = q.find(name + ".weight");
        if (it == q.end()) continue;
        sd[it->first] = dequantize_to_state_tensor(it->first, it->second);
        bytes += static_cast<int64_t>(it->second.data.size());
        weights += it->second.rows * it->second.cols;
      }
      GPT m(model.config(), 0);
      m.load_state_dict(sd);
      row("q4_0", 0.0, 8.0 * static_cast<double>(bytes) / static_cast<double>(weights), loss_of(m));
    }

    // 6. The claims.
    std::printf("\nevery pruned model has exactly the asked sparsity (and 2:4 pattern): %s\n",
                ok ? "yes" : "NO");
    const bool sgpt_wins = loss_sgpt50 <= loss_mag50;
    std::printf("SparseGPT 50%% loss %.4f <= magnitude 50%% loss %.4f: %s\n", loss_sgpt50,
                loss_mag50, sgpt_wins ? "yes" : "NO");
    return ok && sgpt_wins ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "11_pruning: error: %s\n", e.what());
    return 1;
  }
}
