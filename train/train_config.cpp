// train_config.cpp: presets, validation and the JSON form of TrainConfig.
// The JSON is written into every checkpoint (train_state.json), so resuming
// a run never depends on remembering which flags were passed.
#include "train/train_config.h"

#include <stdexcept>

namespace cpurich {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("training config: " + what);
}

// Reads j[key] into out, naming the key when it is missing or mistyped.
template <typename T>
void read_key(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end())
    throw std::runtime_error(std::string("training config: missing key '") + key + "'");
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(std::string("training config: key '") + key + "' has the wrong type");
  }
}

}  // namespace

void TrainConfig::validate() const {
  require(n_layer >= 1, "n_layer must be >= 1");
  require(n_head >= 1, "n_head must be >= 1");
  require(n_embd >= 1 && n_embd % n_head == 0, "n_embd must be a positive multiple of n_head");
  require(block_size >= 1, "block_size must be >= 1");
  require(dropout >= 0.0 && dropout < 1.0, "dropout must be in [0, 1)");
  require(batch_size >= 1, "batch_size must be >= 1");
  require(grad_accum >= 1, "grad_accum must be >= 1");
  require(val_fraction > 0.0 && val_fraction < 1.0, "val_fraction must be in (0, 1)");
  require(tokenizer == "char" || tokenizer == "bpe", "tokenizer must be 'char' or 'bpe'");
  require(vocab_size >= 0, "vocab_size must be >= 0");
  require(max_iters >= 1, "max_iters must be >= 1");
  require(learning_rate > 0.0, "learning_rate must be > 0");
  require(min_lr >= 0.0 && min_lr <= learning_rate, "min_lr must be in [0, learning_rate]");
  require(warmup_iters >= 0, "warmup_iters must be >= 0");
  require(beta1 >= 0.0 && beta1 < 1.0, "beta1 must be in [0, 1)");
  require(beta2 >= 0.0 && beta2 < 1.0, "beta2 must be in [0, 1)");
  require(eps > 0.0, "eps must be > 0");
  require(weight_decay >= 0.0, "weight_decay must be >= 0");
  require(grad_clip >= 0.0, "grad_clip must be >= 0 (0 disables clipping)");
  require(eval_every >= 1, "eval_every must be >= 1");
  require(eval_iters >= 1, "eval_iters must be >= 1");
  require(log_every >= 1, "log_every must be >= 1");
}

GPTConfig TrainConfig::model_config(int64_t vocab) const {
  GPTConfig c;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_embd = n_embd;
  c.n_positions = block_size;
  c.vocab_size = vocab;
  c.dropout = dropout;
  c.validate();
  return c;
}

TrainConfig tiny_config() {
  return TrainConfig{};
}  // the defaults are nanoGPT's CPU recipe

TrainConfig small_config() {
  TrainConfig c;
  c.n_layer = 6;
  c.n_head = 6;
  c.n_embd = 384;
  c.block_size = 256;
  c.dropout = 0.2;
  c.batch_size = 64;
  c.max_iters = 5000;
  c.eval_every = 250;
  c.eval_iters = 200;
  return c;
}

TrainConfig world_config() {
  TrainConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 128;
  c.block_size = 128;  // a biography (~8 sentences) in BPE tokens, with the name in each
  c.batch_size = 8;
  c.val_fraction = 0.02;
  c.tokenizer = "bpe";
  c.vocab_size = 1024;
  c.max_iters = 3000;
  c.learning_rate = 2e-3;
  c.min_lr = 2e-4;
  c.eval_every = 500;
  c.eval_iters = 10;
  return c;
}

TrainConfig named_config(const std::string& name) {
  if (name == "tiny") return tiny_config();
  if (name == "world") return world_config();
  if (name == "small") return small_config();
  throw std::invalid_argument("unknown config '" + name + "' (expected tiny, small or world)");
}

nlohmann::json train_config_to_json(const TrainConfig& c) {
  return nlohmann::json{{"n_layer", c.n_layer},
                        {"n_head", c.n_head},
                        {"n_embd", c.n_embd},
                        {"block_size", c.block_size},
                        {"dropout", c.dropout},
                        {"batch_size", c.batch_size},
                        {"grad_accum", c.grad_accum},
                        {"val_fraction", c.val_fraction},
                        {"tokenizer", c.tokenizer},
                        {"vocab_size", c.vocab_size},
                        {"max_iters", c.max_iters},
                        {"learning_rate", c.learning_rate},
                        {"min_lr", c.min_lr},
                        {"warmup_iters", c.warmup_iters},
                        {"beta1", c.beta1},
                        {"beta2", c.beta2},
                        {"eps", c.eps},
                        {"weight_decay", c.weight_decay},
                        {"grad_clip", c.grad_clip},
                        {"eval_every", c.eval_every},
                        {"eval_iters", c.eval_iters},
                        {"log_every", c.log_every},
                        {"seed", c.seed}};
}

TrainConfig train_config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::runtime_error("training config: expected a JSON object");
  TrainConfig c;
  read_key(j, "n_layer", c.n_layer);
  read_key(j, "n_head", c.n_head);
  read_key(j, "n_embd", c.n_embd);
  read_key(j, "block_size", c.block_size);
  read_key(j, "dropout", c.dropout);
  read_key(j, "batch_size", c.batch_size);
  read_key(j, "grad_accum", c.grad_accum);
  read_key(j, "val_fraction", c.val_fraction);
  read_key(j, "tokenizer", c.tokenizer);
  read_key(j, "vocab_size", c.vocab_size);
  read_key(j, "max_iters", c.max_iters);
  read_key(j, "learning_rate", c.learning_rate);
  read_key(j, "min_lr", c.min_lr);
  read_key(j, "warmup_iters", c.warmup_iters);
  read_key(j, "beta1", c.beta1);
  read_key(j, "beta2", c.beta2);
  read_key(j, "eps", c.eps);
  read_key(j, "weight_decay", c.weight_decay);
  read_key(j, "grad_clip", c.grad_clip);
  read_key(j, "eval_every", c.eval_every);
  read_key(j, "eval_iters", c.eval_iters);
  read_key(j, "log_every", c.log_every);
  read_key(j, "seed", c.seed);
  c.validate();
  return c;
}

}  // namespace cpurich
